import { Driver, type Vm, VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { controllerPerTest } from './support/controller-per-test.ts';
import type { ControllerSession } from './support/controller-session.ts';

// The sync half of the protocol against a real grpc-js server on loopback: Hello → Welcome, then a
// snapshot or a replay after the controller's cursor, acknowledgements, and the cursor across restarts.

const env = controllerPerTest();
const { agentWith } = env;

const vmChanges = (session: ControllerSession) =>
  session.changes().filter((c) => c.change?.$case === 'vmUpdated' || c.change?.$case === 'vmRemoved');
const lastCursor = (session: ControllerSession) => session.changes().at(-1)?.cursor ?? 0;

describe('sync over a real gRPC stream', () => {
  it('first contact: Join, Hello, then a snapshot of every VM; later changes follow in cursor order', async () => {
    const sessions = env.controller.nextSession();
    const { driver, agent } = await agentWith();
    const session = await sessions;
    expect(env.controller.joins).toHaveLength(1);
    expect(env.controller.joins[0]?.request).toMatchObject({
      joinToken: 'tok',
      hostname: 'vapor-node-01.corp.awan.io',
      host: driver.hostInfo(),
    });
    expect(session.authorization).toBe('Bearer cred-1');
    const hello = await session.hello;
    expect(hello).toMatchObject({
      hostname: 'vapor-node-01.corp.awan.io',
      agentVersion: '0.1.0',
      driver: Driver.DRIVER_SIMULATED,
      host: driver.hostInfo(),
      instanceId: agent.instanceId,
    });
    expect(hello.journalHead).toBeGreaterThanOrEqual(hello.journalFloor);

    await session.welcome({ appliedCursor: 0 });
    const [chunk] = await session.until(() => session.snapshots().length > 0 && session.snapshots());
    expect(chunk).toMatchObject({ last: true, host: driver.hostInfo(), cursor: hello.journalHead });
    expect(new Set(chunk?.vms.map((v) => v.id))).toEqual(new Set((await driver.listVms()).map((v) => v.id)));

    const vm = driver.define({ name: 'new-vm' });
    await driver.power(vm.id, 'start');
    const changes = await session.until(() => vmChanges(session).length >= 2 && vmChanges(session));
    expect(changes.map((c) => c.cursor)).toEqual([hello.journalHead + 1, hello.journalHead + 2]);
    expect(changes[1]?.change).toMatchObject({
      $case: 'vmUpdated',
      value: { id: vm.id, state: VmState.VM_STATE_RUNNING },
    });
    expect(agent.status()).toMatchObject({
      hostId: 'h-1',
      connected: true,
      journalHead: hello.journalHead + 2,
    });
  });

  it('snapshots come in chunks of 500 VMs, the host in the first, `last` on the last, one cursor', async () => {
    const sessions = env.controller.nextSession();
    const { driver } = await agentWith();
    const session = await sessions;
    for (let i = 0; i < 1200; i++) driver.define({ name: `bulk-${i}` });
    await session.welcome({ appliedCursor: 0 });
    const chunks = await session.until(
      () => session.snapshots().at(-1)?.last === true && session.snapshots(),
    );
    expect(chunks.map((c) => c.vms.length)).toEqual([500, 500, 203]);
    expect(chunks.map((c) => c.host !== undefined)).toEqual([true, false, false]);
    expect(new Set(chunks.map((c) => c.snapshotId)).size).toBe(1);
    expect(new Set(chunks.map((c) => c.cursor)).size).toBe(1);
  });

  it('after a reconnect, replays exactly the changes after the controller cursor', async () => {
    let sessions = env.controller.nextSession();
    const { driver } = await agentWith();
    const first = await sessions;
    await first.welcome();
    await first.until(() => first.snapshots().length > 0);
    const vms: Vm[] = [];
    for (let i = 0; i < 6; i++) vms.push(driver.define({ name: `g${i}` }));
    await first.until(() => vmChanges(first).length === 6);
    const sent = first.changes().map((c) => c.cursor);
    const applied = sent[2] ?? 0;
    // The controller acknowledges what it applied, as it does after each commit.
    await first.ack(applied);

    sessions = env.controller.nextSession();
    first.end();
    const second = await sessions;
    await second.welcome({ appliedCursor: applied });
    const replay = await second.until(() => second.changes().length >= 3 && second.changes());
    expect(second.snapshots()).toEqual([]);
    expect(replay.map((c) => c.cursor)).toEqual(sent.slice(3));
    expect(replay.map((c) => c.change?.$case === 'vmUpdated' && c.change.value.name)).toEqual([
      'g3',
      'g4',
      'g5',
    ]);
  });

  it('sends a snapshot when the journal no longer reaches the cursor; VMs removed meanwhile are absent', async () => {
    let sessions = env.controller.nextSession();
    const { driver } = await agentWith({ config: { journalCapacity: 20 } });
    const first = await sessions;
    await first.welcome();
    await first.until(() => first.snapshots().length > 0);
    const gone = driver.define({ name: 'short-lived' });
    await first.until(() => vmChanges(first).length === 1);
    const applied = lastCursor(first);
    sessions = env.controller.nextSession();
    await first.goodbye();
    // While disconnected: more changes than the journal holds, and a VM removed.
    driver.undefine(gone.id);
    for (let i = 0; i < 30; i++) driver.define({ name: `burst-${i}` });
    const second = await sessions;
    const hello = await second.hello;
    expect(hello.journalFloor).toBeGreaterThan(applied);
    await second.welcome({ appliedCursor: applied });
    const chunks = await second.until(() => second.snapshots().at(-1)?.last === true && second.snapshots());
    const ids = new Set(chunks.flatMap((c) => c.vms.map((v) => v.id)));
    expect(ids).toEqual(new Set((await driver.listVms()).map((v) => v.id)));
    expect(ids.has(gone.id)).toBe(false);
    expect(chunks[0]?.cursor).toBe(hello.journalHead);
  });

  it('a controller ahead of the journal (lost cursor file): the cursor moves past it, then a snapshot', async () => {
    let sessions = env.controller.nextSession();
    const { driver } = await agentWith();
    const first = await sessions;
    const hello = await first.hello;
    const ahead = hello.journalHead + 5000;
    await first.welcome({ appliedCursor: ahead });
    const [chunk] = await first.until(() => first.snapshots().length > 0 && first.snapshots());
    expect(chunk?.cursor).toBeGreaterThan(ahead);
    driver.define({ name: 'after' });
    const [change] = await first.until(() => vmChanges(first).length > 0 && vmChanges(first));
    expect(change?.cursor).toBe((chunk?.cursor ?? 0) + 1);
    sessions = env.controller.nextSession();
    first.end();
    const second = await sessions;
    expect((await second.hello).journalHead).toBe(change?.cursor);
  });

  it('a controller cursor inside the journal before any ack of this run (cursor file lost or restored): a snapshot, not a replay', async () => {
    let sessions = env.controller.nextSession();
    const { driver } = await agentWith();
    const first = await sessions;
    const hello = await first.hello;
    // A cursor the controller applied from an earlier run, which this run's listing numbered again.
    const earlier = hello.journalHead - 1;
    expect(earlier).toBeGreaterThanOrEqual(hello.journalFloor);
    await first.welcome({ appliedCursor: earlier });
    const [chunk] = await first.until(() => first.snapshots().length > 0 && first.snapshots());
    expect(chunk).toMatchObject({ cursor: hello.journalHead, last: true });
    expect(new Set(chunk?.vms.map((v) => v.id))).toEqual(new Set((await driver.listVms()).map((v) => v.id)));
    expect(first.changes()).toEqual([]);

    // Once the controller acknowledged this run's snapshot, a reconnect replays after its cursor.
    await first.ack(chunk?.cursor ?? 0);
    const vm = driver.define({ name: 'after-ack' });
    await first.until(() => vmChanges(first).length === 1);
    sessions = env.controller.nextSession();
    first.end();
    const second = await sessions;
    await second.welcome({ appliedCursor: chunk?.cursor ?? 0 });
    const replay = await second.until(() => second.changes().length === 1 && second.changes());
    expect(replay[0]?.change).toMatchObject({ $case: 'vmUpdated', value: { id: vm.id } });
    expect(second.snapshots()).toEqual([]);
  });

  it('acks trim what was applied and nothing else: an ack beyond what was sent changes nothing', async () => {
    let sessions = env.controller.nextSession();
    const { driver, log, agent } = await agentWith();
    const first = await sessions;
    await first.welcome();
    await first.until(() => first.snapshots().length > 0);
    for (let i = 0; i < 4; i++) driver.define({ name: `a${i}` });
    await first.until(() => vmChanges(first).length === 4);
    const cursors = first.changes().map((c) => c.cursor);
    await first.ack(cursors[1] ?? 0);
    await first.ack((cursors[3] ?? 0) + 100);
    await expect.poll(() => log.messages('ignoring an Ack beyond what was sent').length).toBe(1);
    expect(agent.status().journalFloor).toBe(cursors[1]);

    sessions = env.controller.nextSession();
    first.end();
    const second = await sessions;
    expect(await second.hello).toMatchObject({ journalFloor: cursors[1], journalHead: cursors[3] });
    await second.welcome({ appliedCursor: cursors[1] });
    const replay = await second.until(() => second.changes().length >= 2 && second.changes());
    expect(replay.map((c) => c.cursor)).toEqual(cursors.slice(2));
    expect(second.snapshots()).toEqual([]);
  });

  it('changes outrunning the stream past the journal bound: a new session, resynced by a snapshot', async () => {
    let sessions = env.controller.nextSession();
    const { driver, log } = await agentWith({ config: { journalCapacity: 20 } });
    const first = await sessions;
    await first.welcome();
    await first.until(() => first.snapshots().length > 0);
    const sent = (await first.hello).journalHead;
    sessions = env.controller.nextSession();
    // One synchronous burst: 30 changes before the sender's next turn, 10 more than the journal keeps.
    for (let i = 0; i < 30; i++) driver.define({ name: `flood-${i}` });
    const second = await sessions;
    expect(log.messages('disconnected from the controller')[0]).toMatchObject({ reason: 'journal_overflow' });
    await second.welcome({ appliedCursor: sent });
    const chunks = await second.until(() => second.snapshots().at(-1)?.last === true && second.snapshots());
    expect(chunks.flatMap((c) => c.vms)).toHaveLength((await driver.listVms()).length);
  });

  it('a restarted agent starts above every cursor it used and sends a snapshot first', async () => {
    let sessions = env.controller.nextSession();
    const a = await agentWith();
    const first = await sessions;
    await first.welcome();
    await first.until(() => first.snapshots().length > 0);
    for (let i = 0; i < 5; i++) a.driver.define({ name: `r${i}` });
    await first.until(() => vmChanges(first).length === 5);
    const used = lastCursor(first);
    await a.agent.close();

    sessions = env.controller.nextSession();
    await agentWith({ stateDir: a.stateDir });
    const second = await sessions;
    expect(env.controller.joins).toHaveLength(1);
    expect(second.authorization).toBe('Bearer cred-1');
    const hello = await second.hello;
    expect(hello.journalFloor).toBeGreaterThan(used);
    await second.welcome({ appliedCursor: used });
    const [chunk] = await second.until(() => second.snapshots().length > 0 && second.snapshots());
    expect(chunk?.cursor).toBeGreaterThan(used);
  });
});

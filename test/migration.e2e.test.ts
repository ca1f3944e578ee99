import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@cockpit/controller';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { guestWithDisksXml, writeDirtyingBootImage } from '../packages/agent/test/support/guests.ts';
import { restartLibvirtd } from '../packages/agent/test/support/restart-libvirtd.ts';
import {
  guestXml,
  type LibvirtHost,
  startLibvirtHost,
  virsh,
  virshDominfo,
  waitFor,
} from '../packages/libvirt/test/harness/index.ts';
import { AgentProcess } from './support/agent-process.ts';
import { type E2eController, startE2eController } from './support/e2e-controller.ts';
import { createE2eDatabase, type E2eDatabase } from './support/e2e-database.ts';
import { libvirtHostFlags, startJoinedAgent } from './support/joined-agent.ts';
import { tempDir } from './support/temp-dir.ts';

// Live migration end to end: two real libvirtd hosts (the harness), a real `cockpit-agent` on each, one
// controller on PostgreSQL, a running QEMU guest moved through REST. virsh is the witness of where the
// guest runs; REST must say the same, on one host at a time.

const PREFIX = process.env.LIBVIRT_HOST_NAME_PREFIX ?? 'e2e-mig';

interface Side {
  host: LibvirtHost;
  hostId: string;
  agent: AgentProcess;
  /** Its flags without the join token: a restart uses the credential in its state folder. */
  args: string[];
}
interface Migration {
  id: string;
  status: string;
  progress: {
    data_processed: number;
    data_total: number;
    elapsed_ms: number;
    downtime_ms: number;
    post_copy?: boolean;
  } | null;
  error: { code: string; message: string } | null;
}

let db: E2eDatabase;
let ctl: E2eController;
let a: Side;
let b: Side;
const agents: AgentProcess[] = [];
let guest: { name: string; id: string };
/** A guest that dirties its memory forever: under a bandwidth limit its migration never ends by itself. */
let busy: { name: string; id: string } | undefined;
let sharedDir: string | undefined;
/** Guests of single tests, removed with the others after the suite. */
const others: Array<{ name: string; id: string }> = [];
const execFileAsync = promisify(execFile);
const FINAL = ['completed', 'failed', 'cancelled'];

async function side(host: LibvirtHost): Promise<Side> {
  const {
    agent,
    host: joined,
    args,
  } = await startJoinedAgent(ctl, {
    hostname: host.name,
    flags: libvirtHostFlags(host, join(tempDir('cockpit-e2e-mig-agent-'), 'state')),
    started: agents,
  });
  return { host, hostId: String(joined.id), agent, args };
}

const migration = async (id: string) => (await ctl.api<Migration>('GET', `/api/v1/migrations/${id}`)).body;
const until = <T>(what: string, read: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 90_000) =>
  waitFor(
    async () => {
      const v = await read();
      return accept(v) ? v : undefined;
    },
    { what, timeoutMs, intervalMs: 100 },
  );
const names = async (on: Side) =>
  (await virsh(on.host.uri, 'list', '--all', '--name'))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
const domstate = async (on: Side, name: string) =>
  (await virsh(on.host.uri, 'domstate', name).catch(() => 'absent')).trim();
const restVm = async (id: string) => (await ctl.api('GET', `/api/v1/vms/${id}`)).body;
/** How many hosts REST shows the VM on (the list of every VM). */
const shownOn = async (id: string) =>
  ((await ctl.api('GET', '/api/v1/vms?limit=1000')).body.vms as Array<{ id: string }>).filter(
    (v) => v.id === id,
  ).length;

/** Starts a 1 MiB/s migration of the busy guest A → B and waits until it copies. */
async function migrateBusyToB(): Promise<string> {
  const id = await migrate(b, { bandwidth_mibps: 1 }, busy);
  await until(
    'progress',
    () => migration(id),
    (m) => m.status === 'migrating' && (m.progress?.data_processed ?? 0) > 0,
    60_000,
  );
  return id;
}

/** Cancels a migration through REST: it must end cancelled. */
async function cancelled(id: string): Promise<Migration> {
  const cancel = await ctl.api('POST', `/api/v1/migrations/${id}/cancel`, {});
  expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
  const done = await until(
    `migration ${id} final`,
    () => migration(id),
    (m) => FINAL.includes(m.status),
  );
  expect(done.status, JSON.stringify(done.error)).toBe('cancelled');
  return done;
}

/** Cancels a migration of the busy guest through REST: it must end cancelled, the guest on A only. */
async function cancelAndCheckOnA(id: string): Promise<Migration> {
  const done = await cancelled(id);
  await busyStayedOnA();
  return done;
}

/** After a migration of the busy guest that did not happen: it runs on A, not on B, and REST agrees. */
async function busyStayedOnA(): Promise<void> {
  const name = busy?.name ?? '';
  const vmId = busy?.id ?? '';
  expect(await domstate(a, name)).toBe('running');
  await until(
    'the incoming guest gone from B',
    () => names(b),
    (list) => !list.includes(name),
    30_000,
  );
  await until(
    'REST shows it on A only',
    async () => ({ vm: await restVm(vmId), shown: await shownOn(vmId) }),
    ({ vm, shown }) => vm.host_id === a.hostId && vm.state === 'running' && shown === 1,
    30_000,
  );
}

async function migrate(
  to: Side,
  extra: Record<string, unknown> = {},
  vm: { id: string } = guest,
): Promise<string> {
  const res = await ctl.api('POST', `/api/v1/vms/${vm.id}/migrate`, {
    destination_host_id: to.hostId,
    live: true,
    persistent: true,
    undefine_source: true,
    copy_storage: 'none',
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body).toEqual({ migration_id: expect.any(String), status: 'initiated' });
  return res.body.migration_id;
}

/** Waits until libvirt copies the migration's disks (some data sent). */
function untilCopying(id: string) {
  return until(
    'copying',
    () => migration(id),
    (m) => m.status === 'migrating' && (m.progress?.data_processed ?? 0) > 0,
    60_000,
  );
}

/** Waits until the file at `path` is gone (an agent removes images after the fact). */
function untilGone(path: string, what: string) {
  return until(
    `${what} gone`,
    () =>
      access(path).then(
        () => 'there',
        (err: NodeJS.ErrnoException) => err.code,
      ),
    (state) => state === 'ENOENT',
    30_000,
  );
}

/**
 * A guest running on A whose one disk is a qcow2 image only A has (in /var/lib/libvirt/images, each
 * harness host's own folder), `dataMiB` of it written; waits until the controller knows its capacity,
 * which a storage copy's prepare needs (the API does not show disks: read from the controller's record).
 */
async function diskGuestOnA(prefix: string, o: { sizeMiB: number; dataMiB: number }) {
  const image = `/var/lib/libvirt/images/${randomBytes(3).toString('hex')}.qcow2`;
  const onA = join(a.host.stateDir, 'lib', image.slice('/var/lib/libvirt/'.length));
  const onB = join(b.host.stateDir, 'lib', image.slice('/var/lib/libvirt/'.length));
  await execFileAsync('qemu-img', ['create', '-q', '-f', 'qcow2', onA, `${o.sizeMiB}M`]);
  await execFileAsync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${o.dataMiB}M`, onA]);
  const g = { name: `${prefix}-${randomBytes(3).toString('hex')}`, id: randomUUID() };
  others.push(g);
  const file = join(a.host.stateDir, `${g.name}.xml`);
  await writeFile(
    file,
    guestWithDisksXml({
      name: g.name,
      uuid: g.id,
      boot: 'network',
      disks: [{ path: image, target: 'vda', format: 'qcow2' }],
    }),
  );
  await virsh(a.host.uri, 'define', file);
  await virsh(a.host.uri, 'start', g.name);
  await until(
    `${g.name} running on A in REST`,
    () => restVm(g.id),
    (v) => v?.state === 'running',
  );
  const sql = connect(db.url, { max: 1 });
  try {
    await until(
      `the capacity of ${g.name}'s disk known to the controller`,
      async () =>
        (
          await sql<{ disks: Array<{ capacityBytes?: number }> }[]>`select disks from vms where id = ${g.id}`
        )[0]?.disks[0]?.capacityBytes,
      (capacity) => capacity === o.sizeMiB << 20,
    );
  } finally {
    await sql.end();
  }
  return { g, onA, onB };
}

beforeAll(async () => {
  const tag = randomBytes(3).toString('hex');
  let hostA: LibvirtHost;
  let hostB: LibvirtHost;
  [hostA, hostB, db] = await Promise.all([
    startLibvirtHost({ name: `${PREFIX}-a-${tag}` }),
    startLibvirtHost({ name: `${PREFIX}-b-${tag}` }),
    createE2eDatabase(),
  ]);
  ctl = await startE2eController(db, tempDir('cockpit-e2e-'));
  a = await side(hostA);
  b = await side(hostB);
  const name = `mig-${tag}`;
  const id = randomUUID();
  const file = join(a.host.stateDir, `${name}.xml`);
  await writeFile(file, guestXml({ name, uuid: id, memoryMiB: 64 }));
  await virsh(a.host.uri, 'define', file);
  await virsh(a.host.uri, 'start', name);
  guest = { name, id };
  await until(
    'the guest running on A in REST',
    () => restVm(id),
    (v) => v?.state === 'running' && v.host_id === a.hostId,
  );
  sharedDir = join(dirname(a.host.stateDir), `${PREFIX}-shared-${tag}`);
  await mkdir(sharedDir, { recursive: true });
});

afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  for (const agent of agents) {
    process.stderr.write(`--- cockpit-agent ${agent.child.pid} (${agent.running ? 'running' : 'exited'})\n`);
    process.stderr.write(`${agent.stdout.split('\n').slice(-20).join('\n')}\n${agent.stderr.slice(-2000)}\n`);
  }
});

afterAll(async () => {
  for (const on of [a, b]) {
    for (const g of [guest, busy, ...others]) {
      if (on === undefined || g === undefined) continue;
      await virsh(on.host.uri, 'destroy', g.name).catch(() => undefined);
      await virsh(on.host.uri, 'undefine', g.name).catch(() => undefined);
    }
  }
  if (sharedDir !== undefined) await rm(sharedDir, { recursive: true, force: true });
  await Promise.allSettled(agents.map((agent) => agent.kill()));
  await ctl?.stop();
  await Promise.allSettled([a?.host.stop(), b?.host.stop()]);
  await db?.drop();
});

describe('live migration through REST between two libvirt hosts', () => {
  it('moves a running guest A → B: virsh shows it running and defined on B, gone from A; REST agrees', async () => {
    const id = await migrate(b);
    const done = await until(
      `migration ${id} final`,
      () => migration(id),
      (m) => FINAL.includes(m.status),
    );
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    expect(done.progress?.data_total).toBeGreaterThan(0);
    expect(await domstate(b, guest.name)).toBe('running');
    expect((await virshDominfo(b.host.uri, guest.name)).Persistent).toBe('yes');
    expect(await names(a)).not.toContain(guest.name);
    expect(await restVm(guest.id)).toMatchObject({ host_id: b.hostId, state: 'running' });
    expect(await shownOn(guest.id)).toBe(1);
    await until(
      'REST still shows it on B, running',
      () => restVm(guest.id),
      (v) => v.host_id === b.hostId && v.state === 'running',
      10_000,
    );
  });

  it('moves it back B → A', async () => {
    const id = await migrate(a);
    const done = await until(
      `migration ${id} final`,
      () => migration(id),
      (m) => FINAL.includes(m.status),
    );
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(await domstate(a, guest.name)).toBe('running');
    expect(await names(b)).not.toContain(guest.name);
    expect(await restVm(guest.id)).toMatchObject({ host_id: a.hostId, state: 'running' });
    expect(await shownOn(guest.id)).toBe(1);
  });

  it('cancels a throttled migration of a busy guest A → B: it keeps running on A, the record says cancelled', async () => {
    const image = join(sharedDir ?? '', 'dirtying-boot.img');
    await writeDirtyingBootImage(image);
    const name = `busy-${randomBytes(3).toString('hex')}`;
    busy = { name, id: randomUUID() };
    const file = join(a.host.stateDir, `${name}.xml`);
    await writeFile(
      file,
      guestWithDisksXml({ name, uuid: busy.id, disks: [{ path: image, target: 'vda', readOnly: true }] }),
    );
    await virsh(a.host.uri, 'define', file);
    await virsh(a.host.uri, 'start', name);
    const vmId = busy.id;
    await until(
      'the busy guest running on A in REST',
      () => restVm(vmId),
      (v) => v?.state === 'running',
    );
    const id = await migrateBusyToB();
    const done = await cancelAndCheckOnA(id);
    expect(done.error?.message).toContain('cancel');
  });

  it('the controller restarts mid-migration: the new process drives it on (progress, cancel); the guest stays on A', async () => {
    const id = await migrateBusyToB();
    await ctl.restart();
    const before = (await migration(id)).progress?.elapsed_ms ?? 0;
    await until(
      'progress recorded through the restarted controller',
      () => migration(id),
      (m) => (m.progress?.elapsed_ms ?? 0) > before,
      60_000,
    );
    await cancelAndCheckOnA(id);
  });

  it('the source agent is killed (-9) mid-migration and restarted: the record waits for the journals, a cancel still stops libvirt’s job', async () => {
    const id = await migrateBusyToB();
    await a.agent.kill('SIGKILL');
    a.agent = AgentProcess.start(a.args);
    agents.push(a.agent);
    // The restarted agent answers the perform `interrupted`; libvirtd is still migrating, so the
    // migration is not failed on that answer.
    await until(
      'the source host connected again',
      async () => (await ctl.api('GET', `/api/v1/hosts/${a.hostId}`)).body.status,
      (st) => st === 'connected',
      60_000,
    );
    expect((await virsh(a.host.uri, 'domjobinfo', busy?.name ?? '')).split('\n')[0]).toMatch(/Unbounded/);
    expect((await migration(id)).status).toBe('migrating');
    const done = await cancelAndCheckOnA(id);
    expect(['cancelled', 'interrupted']).toContain(done.error?.code);
  });

  it("the destination's libvirtd dies (-9) mid-migration: failed in libvirt's words, the guest runs on A only", async () => {
    const id = await migrateBusyToB();
    let failed: Migration | undefined;
    await restartLibvirtd(
      b.host,
      async () => {
        failed = await until(
          `migration ${id} final while B's libvirtd is down`,
          () => migration(id),
          (m) => FINAL.includes(m.status),
        );
      },
      'SIGKILL',
    );
    expect(failed?.status, JSON.stringify(failed)).toBe('failed');
    // libvirt's own words, as the source's libvirtd lost its peer.
    expect(failed?.error?.message).toMatch(/\S/);
    // Back up, B's libvirtd drops the half-received guest.
    await busyStayedOnA();
  });

  it('the destination agent is killed (-9) mid-migration: completed only once it is back and reports the guest', async () => {
    // The busy guest never converges at 1 MiB/s: the migration holds while the agent is killed, then a
    // force-complete (post-copy, through the living source agent) finishes it. QEMU needs userfaultfd.
    const userfaultfd = (await readFile('/proc/sys/vm/unprivileged_userfaultfd', 'utf8')).trim();
    await writeFile('/proc/sys/vm/unprivileged_userfaultfd', '1');
    try {
      const id = await migrate(b, { bandwidth_mibps: 1, allow_post_copy: true }, busy);
      const copying = await until(
        'progress, or the end',
        () => migration(id),
        (m) =>
          (m.status === 'migrating' && (m.progress?.data_processed ?? 0) > 0) || FINAL.includes(m.status),
        60_000,
      );
      expect(copying.status, JSON.stringify(copying)).toBe('migrating');
      await b.agent.kill('SIGKILL');
      const force = await ctl.api('POST', `/api/v1/migrations/${id}/force-complete`, {});
      expect(force.status, JSON.stringify(force.body)).toBe(202);
      const name = busy?.name ?? '';
      const vmId = busy?.id ?? '';
      await until(
        'libvirt finished: the guest runs on B',
        () => domstate(b, name),
        (st) => st === 'running',
        90_000,
      );
      await until(
        'the guest gone from A',
        () => names(a),
        (list) => !list.includes(name),
        30_000,
      );
      // The source said it succeeded, but the destination has not reported the guest: not completed yet.
      await until(
        'the destination host disconnected',
        async () => (await ctl.api('GET', `/api/v1/hosts/${b.hostId}`)).body.status,
        (st) => st === 'disconnected',
        30_000,
      );
      const waiting = await migration(id);
      expect(waiting.status, JSON.stringify(waiting)).toBe('migrating');
      expect((await restVm(vmId)).host_id).toBe(a.hostId);

      b.agent = AgentProcess.start(b.args);
      agents.push(b.agent);
      const done = await until(
        `migration ${id} final`,
        () => migration(id),
        (m) => FINAL.includes(m.status),
      );
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      expect(done.progress?.post_copy).toBe(true);
      expect(await restVm(vmId)).toMatchObject({ host_id: b.hostId, state: 'running' });
      expect(await shownOn(vmId)).toBe(1);
    } finally {
      await writeFile('/proc/sys/vm/unprivileged_userfaultfd', userfaultfd);
    }
  });

  it('refuses a destination whose agent reports too little memory available for the guest (insufficient_memory)', async () => {
    // A guest of this machine's memory less 512 MiB: it fits B's whole memory with QEMU's 256 MiB, but not
    // what B's agent samples as available (both hosts share this machine, which uses more than 256 MiB).
    // Its QEMU allocates lazily (no OS touches the memory), so A runs it all the same.
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const totalMiB = Math.floor(Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1]) / 1024);
    const g = { name: `big-${randomBytes(3).toString('hex')}`, id: randomUUID() };
    others.push(g);
    const file = join(a.host.stateDir, `${g.name}.xml`);
    await writeFile(
      file,
      guestWithDisksXml({ name: g.name, uuid: g.id, boot: 'network', disks: [], memoryMiB: totalMiB - 512 }),
    );
    await virsh(a.host.uri, 'define', file);
    await virsh(a.host.uri, 'start', g.name);
    await until(
      `${g.name} running on A in REST`,
      () => restVm(g.id),
      (v) => v?.state === 'running' && v.memory_mib === totalMiB - 512,
    );
    // B's agent samples every 2 s (the e2e controller's interval): wait for one of the last few seconds.
    const sql = connect(db.url, { max: 1 });
    try {
      await until(
        'a recent memory sample of B',
        async () =>
          (
            await sql<{ at: Date | null }[]>`
              select max(at) as at from metric_host_raw
              where host_id = ${b.hostId} and memory_available_bytes is not null`
          )[0]?.at,
        (at) => at != null && Date.now() - at.getTime() < 10_000,
      );
    } finally {
      await sql.end();
    }
    const res = await ctl.api('POST', `/api/v1/vms/${g.id}/migrate`, { destination_host_id: b.hostId });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.code).toBe('insufficient_memory');
    expect(res.body.error.message).toMatch(/MiB of memory available \(sampled \d+ s ago\)/);
    expect((await ctl.api('GET', `/api/v1/migrations?vm_id=${g.id}`)).body.migrations).toEqual([]);
    await virsh(a.host.uri, 'destroy', g.name);
  });

  it('copy_storage all: a qcow2 disk that exists only on A is created on B and copied; the guest runs on B, and A’s image is gone', async () => {
    const { g, onA, onB } = await diskGuestOnA('disk', { sizeMiB: 32, dataMiB: 1 });
    const id = await migrate(b, { copy_storage: 'all' }, g);
    const done = await until(
      `migration ${id} final`,
      () => migration(id),
      (m) => FINAL.includes(m.status),
    );
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(await virshDominfo(b.host.uri, g.name)).toMatchObject({ State: 'running', Persistent: 'yes' });
    expect(await names(a)).not.toContain(g.name);
    const read = await execFileAsync('qemu-io', ['-r', '-U', '-f', 'qcow2', '-c', 'read -P 0x5a 0 1M', onB]);
    expect(read.stdout).toContain('read 1048576/1048576 bytes');
    expect(await restVm(g.id)).toMatchObject({ host_id: b.hostId, state: 'running' });
    expect(await shownOn(g.id)).toBe(1);
    // Undefined on A (undefine_source), its copied image removed there before the migration completed.
    await expect(access(onA)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('copy_storage all cancelled mid-copy: the image B created for it is removed; the guest runs on A', async () => {
    // 24 MiB of data: at 1 MiB/s the copy takes long enough to be cancelled.
    const { g, onA, onB } = await diskGuestOnA('abandon', { sizeMiB: 64, dataMiB: 24 });
    const id = await migrate(b, { copy_storage: 'all', bandwidth_mibps: 1 }, g);
    await untilCopying(id);
    await access(onB);
    await cancelled(id);
    await untilGone(onB, 'the image B created');
    expect(await domstate(a, g.name)).toBe('running');
    expect(await names(b)).not.toContain(g.name);
    await access(onA);
  });

  it('copy_storage all with the source agent killed (-9) mid-copy: libvirt completes it, and A’s copied image is still removed', async () => {
    // 8 MiB of data at 1 MiB/s: the copy runs for seconds, long enough to kill the agent during it.
    const { g, onA, onB } = await diskGuestOnA('release', { sizeMiB: 32, dataMiB: 8 });
    const id = await migrate(b, { copy_storage: 'all', bandwidth_mibps: 1 }, g);
    await untilCopying(id);
    await a.agent.kill('SIGKILL');
    a.agent = AgentProcess.start(a.args);
    agents.push(a.agent);
    // The restarted agent answers the perform `interrupted`; libvirtd finishes the migration, and the
    // journals settle it.
    const done = await until(
      `migration ${id} final`,
      () => migration(id),
      (m) => FINAL.includes(m.status),
      120_000,
    );
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(await virshDominfo(b.host.uri, g.name)).toMatchObject({ State: 'running' });
    await access(onB);
    // The agent that no longer followed the migration removes the image libvirt copied away, as its
    // record of the perform names it.
    await untilGone(onA, 'A’s copied image');
  });
});

import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GoodbyeReason } from '@cockpit/proto';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { controllerPerTest } from './support/controller-per-test.ts';
import { startTestAgent, type TestAgent } from './support/test-agent.ts';

// Reconnecting: why the agent says it is disconnected, how long it waits, and when it gives up.

const env = controllerPerTest();
const { agentWith } = env;

const disconnects = (a: TestAgent) => a.log.messages('disconnected from the controller');
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('reconnecting', () => {
  it('the controller ends the stream: reconnects and says why', async () => {
    let sessions = env.controller.nextSession();
    const a = await agentWith();
    const first = await sessions;
    await first.welcome();
    sessions = env.controller.nextSession();
    first.end();
    const second = await sessions;
    expect(second.authorization).toBe('Bearer cred-1');
    expect(disconnects(a)[0]).toMatchObject({ reason: 'stream_ended', failures: 1 });
  });

  it('the controller dies: retries with growing, jittered delays (no busy loop) and returns when it is back', async () => {
    let sessions = env.controller.nextSession();
    const a = await agentWith();
    await (await sessions).welcome();
    await env.controller.kill();
    await expect.poll(() => disconnects(a).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(6);
    const seen = disconnects(a);
    // The stream it was on is cut first (CANCELLED), then nothing listens (UNAVAILABLE: refused).
    expect(['cancelled_by_controller', 'unreachable']).toContain(seen[0]?.reason);
    expect(seen[1]).toMatchObject({ reason: 'unreachable', grpcStatus: 'UNAVAILABLE' });
    expect(String(seen[1]?.details)).toMatch(/ECONNREFUSED|No connection established/);
    // Each wait lies in [0, min(cap, base * 2^(n-1))): base 50 ms, cap 400 ms.
    seen.forEach((line, i) => {
      expect(line.failures).toBe(i + 1);
      expect(line.retryInMs).toBeLessThan(Math.min(400, 50 * 2 ** i));
    });
    // A busy loop would make thousands of attempts; backoff makes a few per second at most.
    const started = Date.now();
    const before = disconnects(a).length;
    await expect.poll(() => Date.now() - started, { timeout: 5_000 }).toBeGreaterThan(1_000);
    expect(disconnects(a).length - before).toBeLessThan(30);

    sessions = env.controller.nextSession();
    await env.controller.restart();
    const back = await sessions;
    await back.welcome();
    await expect.poll(() => a.agent.status().connected).toBe(true);
  });

  it('heartbeats at the controller interval; silence past its deadline → reconnect', async () => {
    let sessions = env.controller.nextSession();
    const a = await agentWith();
    const first = await sessions;
    await first.welcome({ heartbeatIntervalMs: 100, heartbeatDeadlineMs: 1_500 });
    const beats = await first.until(() => first.heartbeats().length >= 3 && first.heartbeats());
    expect(beats.every((head) => head === a.agent.status().journalHead)).toBe(true);
    sessions = env.controller.nextSession();
    // The controller sends nothing at all: the agent gives up on it after the deadline.
    const second = await sessions;
    const line = disconnects(a)[0];
    expect(line).toMatchObject({ reason: 'heartbeat_deadline' });
    expect(Number(line?.silentMs)).toBeGreaterThanOrEqual(1_500);
    await second.welcome();
  });

  it('a controller that keeps talking keeps the session, however long it lasts', async () => {
    const sessions = env.controller.nextSession();
    const a = await agentWith();
    const session = await sessions;
    await session.welcome({ heartbeatIntervalMs: 100, heartbeatDeadlineMs: 1_000 });
    const timer = setInterval(
      () => void session.send({ $case: 'heartbeat', value: { sentAtMs: Date.now(), journalHead: 0 } }),
      100,
    );
    try {
      // Over twice the deadline: only what arrives keeps the session.
      await session.until(() => session.heartbeats().length >= 30);
    } finally {
      clearInterval(timer);
    }
    expect(disconnects(a)).toEqual([]);
    expect(env.controller.sessions).toHaveLength(1);
  });

  it('no Welcome in time → reconnect', async () => {
    let sessions = env.controller.nextSession();
    const a = await agentWith({ agent: { welcomeTimeoutMs: 300 } });
    await sessions;
    sessions = env.controller.nextSession();
    await sessions;
    expect(disconnects(a)[0]).toMatchObject({ reason: 'welcome_timeout' });
  });

  it('Goodbye(REPLACED) and Goodbye(SHUTTING_DOWN): reconnect with backoff', async () => {
    let sessions = env.controller.nextSession();
    const a = await agentWith();
    const first = await sessions;
    await first.welcome();
    sessions = env.controller.nextSession();
    await first.goodbye(GoodbyeReason.GOODBYE_REASON_REPLACED, 'another stream took over');
    const second = await sessions;
    await second.welcome();
    sessions = env.controller.nextSession();
    await second.goodbye(GoodbyeReason.GOODBYE_REASON_SHUTTING_DOWN);
    await sessions;
    expect(disconnects(a).map((l) => [l.goodbye, l.failures])).toEqual([
      ['GOODBYE_REASON_REPLACED', 1],
      ['GOODBYE_REASON_SHUTTING_DOWN', 2],
    ]);
  });

  it('Goodbye(REVOKED): stops for good and moves the dead credential aside', async () => {
    const sessions = env.controller.nextSession();
    const a = await agentWith();
    const session = await sessions;
    await session.welcome();
    await session.goodbye(GoodbyeReason.GOODBYE_REASON_REVOKED, 'host deleted by admin');
    await expect(a.agent.stopped).resolves.toEqual({ kind: 'revoked', message: 'host deleted by admin' });
    expect(env.controller.sessions).toHaveLength(1);
    expect(await exists(join(a.stateDir, 'credential.json'))).toBe(false);
    expect(await exists(join(a.stateDir, 'credential.revoked.json'))).toBe(true);
    expect(a.log.messages('the controller revoked this host: not reconnecting')).toHaveLength(1);
  });

  it('the credential lands in the state folder with mode 0600, the folder 0700', async () => {
    const sessions = env.controller.nextSession();
    const a = await agentWith();
    await sessions;
    expect((await stat(a.stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(a.stateDir, 'credential.json'))).mode & 0o777).toBe(0o600);
  });
});

describe('joining', () => {
  it('a refused join token fails once, clearly, without retrying', async () => {
    env.controller.joinAnswer = () => ({ code: status.UNAUTHENTICATED, details: 'join token expired' });
    const a = await agentWith();
    const stop = await a.agent.stopped;
    expect(stop.kind).toBe('failed');
    expect(stop.kind === 'failed' && stop.error.message).toBe(
      'the controller refused to join this host (UNAUTHENTICATED: join token expired)',
    );
    expect(env.controller.joins).toHaveLength(1);
    expect(env.controller.sessions).toHaveLength(0);
    expect(await exists(join(a.stateDir, 'credential.json'))).toBe(false);
  });

  it('an unreachable controller: the join is retried with backoff until it answers', async () => {
    const port = env.controller.port;
    await env.controller.kill();
    const sessions = env.controller.nextSession();
    const a = await agentWith();
    await expect
      .poll(() => a.log.messages('cannot reach the controller to join').length)
      .toBeGreaterThanOrEqual(2);
    await env.controller.restart();
    expect(env.controller.port).toBe(port);
    await sessions;
    expect(env.controller.joins).toHaveLength(1);
  });

  it('no credential and no join token: refuses to start', async () => {
    await expect(startTestAgent(env.controller.address)).rejects.toMatchObject({ code: 'no_credential' });
  });
});

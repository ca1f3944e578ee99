import { expect } from 'vitest';
import { type ControllerTarget, join, ScriptedAgent, vm } from './scripted-agent.ts';
import { TEST_ADMIN_PASSWORD, type TestApp } from './test-app.ts';

/** The app's gRPC service as the scripted agent reaches it. */
export const targetOf = (t: TestApp): ControllerTarget => ({ address: t.grpc.address, caPem: t.grpc.caPem });

/** An admin's access token for the app. */
export const adminToken = async (t: TestApp): Promise<string> =>
  (await t.login('admin', TEST_ADMIN_PASSWORD)).token;

/** A join token made through the REST API. */
export async function joinToken(t: TestApp, admin: string, ttlSeconds?: number): Promise<string> {
  const res = await t.request('POST', '/api/v1/hosts/join-tokens', {
    token: admin,
    body: ttlSeconds === undefined ? {} : { ttl_seconds: ttlSeconds },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.token as string;
}

/** A host joined through a join token: its id and credential. */
export async function joinedHost(
  t: TestApp,
  admin: string,
  hostname: string,
): Promise<{ hostId: string; credential: string }> {
  return join(targetOf(t), await joinToken(t, admin), hostname);
}

/**
 * A joined host whose scripted agent is connected and has reported the VMs named (one state batch,
 * acknowledged: the controller holds them on this host, so it keeps their metric samples from it).
 */
export async function hostWithVms(
  t: TestApp,
  admin: string,
  hostname: string,
  vmIds: readonly string[],
): Promise<{ hostId: string; agent: ScriptedAgent }> {
  const { hostId, credential } = await joinedHost(t, admin, hostname);
  const { agent } = await ScriptedAgent.connect(targetOf(t), credential, { hostname });
  if (vmIds.length > 0) {
    await agent.batch(
      vmIds.map((id) => ({ $case: 'vmUpdated', value: vm(id, `${hostname}-${id.slice(0, 8)}`) })),
    );
    await agent.next('ack');
  }
  return { hostId, agent };
}

/** Polls `read` until `accept` holds; fails naming `what` with the last value seen. */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (accept(last)) return last;
    if (Date.now() > until)
      throw new Error(`${what}: not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

import { waitFor } from '../../packages/libvirt/test/harness/index.ts';
import { AgentProcess } from './agent-process.ts';
import type { E2eController } from './e2e-controller.ts';

/** How `cockpit-agent` reaches this controller and pins its CA, as the join-token answer writes it. */
export function controllerFlags(ctl: E2eController): string[] {
  return [
    '--controller',
    `127.0.0.1:${ctl.grpcPort}`,
    '--ca-sha256',
    ctl.current.services.grpcTls?.caFingerprint ?? '',
  ];
}

/**
 * A libvirt host's own flags for a migration test: its URI, which is also the one other hosts migrate
 * to, a state folder, and no metrics listener (two agents on one machine would want the same port).
 */
export function libvirtHostFlags(host: { uri: string }, stateDir: string): string[] {
  return [
    '--libvirt-uri',
    host.uri,
    '--migration-uri',
    host.uri,
    '--state-dir',
    stateDir,
    '--metrics-listen',
    'off',
  ];
}

/**
 * Starts `cockpit-agent` for `hostname` with a join token of its own and waits until REST shows the host
 * connected. `flags` are the host's own (driver, URIs, state folder, ...). The agent is pushed onto
 * `started` at once, so the caller's cleanup stops it even when it never connects. `args` are its flags
 * without the token: a restart uses the credential in its state folder.
 */
export async function startJoinedAgent(
  ctl: E2eController,
  { hostname, flags, started }: { hostname: string; flags: string[]; started: AgentProcess[] },
): Promise<{ agent: AgentProcess; host: Record<string, unknown>; args: string[] }> {
  const token = (await ctl.api('POST', '/api/v1/hosts/join-tokens', {})).body.token as string;
  const args = [...controllerFlags(ctl), '--hostname', hostname, ...flags];
  const agent = AgentProcess.start([...args, '--join-token', token]);
  started.push(agent);
  const host = await waitFor(
    async () => {
      const hosts = (await ctl.api('GET', '/api/v1/hosts')).body.hosts as Array<Record<string, unknown>>;
      return hosts.find((h) => h.hostname === hostname && h.status === 'connected');
    },
    { what: `${hostname} connected`, timeoutMs: 60_000, stopIf: () => !agent.running },
  );
  return { agent, host, args };
}

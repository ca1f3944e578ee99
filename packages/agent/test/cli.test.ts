import { join } from 'node:path';
import { CommandStatus, GoodbyeReason, PowerOp, VmState } from '@cockpit/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentProcess } from './support/agent-process.ts';
import { ScriptedController } from './support/scripted-controller.ts';
import { tempStateDir } from './support/test-agent.ts';
import { makeTestPki } from './support/test-pki.ts';

// The cockpit-agent command as a real process: flags and exit codes, and what survives a kill -9.

let controller: ScriptedController;
const processes: AgentProcess[] = [];
beforeEach(async () => {
  controller = await ScriptedController.start();
});
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await controller.stop();
});

function agent(stateDir: string, extra: string[] = [], env: Record<string, string> = {}): AgentProcess {
  const p = AgentProcess.start(
    [
      '--controller',
      controller.address,
      '--insecure-plaintext',
      '--driver',
      'simulated',
      '--sim-vms',
      '4',
      '--sim-change-rate',
      '0',
      '--state-dir',
      stateDir,
      '--hostname',
      'vapor-node-02.corp.awan.io',
      ...extra,
    ],
    env,
  );
  processes.push(p);
  return p;
}

describe('cockpit-agent', () => {
  it('bad settings: one message naming every problem, exit 2', async () => {
    const p = AgentProcess.start(
      ['--controller', '10.0.0.1:99999', '--insecure-plaintext', '--sim-vms', 'x'],
      {
        COCKPIT_AGENT_DRIVER: 'hyperv',
      },
    );
    processes.push(p);
    expect((await p.exited).code).toBe(2);
    expect(p.stderr).toContain('--controller (COCKPIT_AGENT_CONTROLLER): the port must be 1-65535');
    expect(p.stderr).toContain('--driver (COCKPIT_AGENT_DRIVER): must be one of libvirt, simulated');
    expect(p.stderr).toContain('--sim-vms (COCKPIT_AGENT_SIM_VMS): must be a whole number from 0 to 100000');
  });

  it('--help lists the settings and exits 0', async () => {
    const p = AgentProcess.start(['--help']);
    processes.push(p);
    expect((await p.exited).code).toBe(0);
    expect(p.stdout).toContain('--ca-sha256');
    expect(p.stdout).toContain('COCKPIT_AGENT_STATE_DIR');
  });

  it('no credential and no join token: exit 2 with what to do', async () => {
    const p = agent(await tempStateDir());
    expect((await p.exited).code).toBe(2);
    expect(p.stderr).toContain('start the agent once with --join-token');
  });

  it('kill -9 and restart: the cursor is above every cursor used before, a command cut short is "interrupted"', async () => {
    const stateDir = await tempStateDir();
    let sessions = controller.nextSession();
    // Random changes flow (so cursors are used), and power calls take a minute (so one is cut short).
    const first = agent(
      stateDir,
      ['--sim-op-delay', '60000', '--sim-change-rate', '1200', '--sim-vms', '20'],
      {
        COCKPIT_AGENT_JOIN_TOKEN: 'tok',
      },
    );
    const s1 = await sessions;
    const hello1 = await s1.hello;
    await s1.welcome();
    const [snapshot] = await s1.until(() => s1.snapshots().length > 0 && s1.snapshots());
    const vm = snapshot?.vms.find((v) => v.state === VmState.VM_STATE_RUNNING);
    const id = '0190f3a5-5d2b-7c1e-8f00-0000000000ff';
    await s1.command({
      commandId: id,
      deadlineMs: 0,
      action: {
        $case: 'power',
        value: { vmId: vm?.id ?? '', op: PowerOp.POWER_OP_DESTROY, timeoutS: 0, forceAfterTimeout: false },
      },
    });
    await s1.until(() =>
      s1.commandUpdates(id).some((u) => u.status === CommandStatus.COMMAND_STATUS_ACCEPTED),
    );
    await s1.until(() => s1.changes().length >= 10);
    expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const used = Math.max(...s1.changes().map((c) => c.cursor));

    sessions = controller.nextSession();
    agent(stateDir);
    const s2 = await sessions;
    const hello2 = await s2.hello;
    expect(controller.joins).toHaveLength(1);
    expect(used).toBeGreaterThan(hello1.journalHead);
    expect(hello2.journalFloor).toBeGreaterThan(used);
    expect(hello2.instanceId).not.toBe(hello1.instanceId);
    await s2.welcome({ appliedCursor: used });
    await s2.until(() => s2.snapshots().length > 0);
    await s2.command({
      commandId: id,
      deadlineMs: 0,
      action: {
        $case: 'power',
        value: { vmId: vm?.id ?? '', op: PowerOp.POWER_OP_DESTROY, timeoutS: 0, forceAfterTimeout: false },
      },
    });
    const [final] = await s2.until(() => s2.commandUpdates(id).length > 0 && s2.commandUpdates(id));
    expect(final).toMatchObject({
      status: CommandStatus.COMMAND_STATUS_FAILED,
      error: { code: 'interrupted' },
    });
  });

  it('Goodbye(REVOKED): exits 1 saying so', async () => {
    const sessions = controller.nextSession();
    const p = agent(await tempStateDir(), [], { COCKPIT_AGENT_JOIN_TOKEN: 'tok' });
    const session = await sessions;
    await session.welcome();
    await session.goodbye(GoodbyeReason.GOODBYE_REASON_REVOKED, 'host deleted');
    expect((await p.exited).code).toBe(1);
    expect(p.stderr).toContain('the controller revoked this host (host deleted)');
    expect(p.stdout).not.toContain('cred-1');
  });

  // grpc-js gives Node's TLS the controller's IP as server name (grpc/grpc-node#1919), and Node warns
  // once (DEP0123) on stderr, a raw line among the JSON ones. The agent logs process warnings instead.
  it('TLS to a controller named by its IP: Node’s warning is a JSON log line, nothing raw on stderr', async () => {
    const pki = makeTestPki();
    const tls = await ScriptedController.start({
      tls: { key: pki.serverKey, certChain: `${pki.serverCert}${pki.caPem}` },
    });
    try {
      const sessions = tls.nextSession();
      const p = AgentProcess.start(
        [
          ...['--controller', tls.address, '--ca-file', join(pki.dir, 'ca.pem'), '--driver', 'simulated'],
          ...['--sim-vms', '0', '--state-dir', await tempStateDir(), '--log-level', 'debug'],
        ],
        { COCKPIT_AGENT_JOIN_TOKEN: 'tok' },
      );
      processes.push(p);
      await (await sessions).welcome();
      const logged = () =>
        p.stdout
          .split('\n')
          .filter((line) => line.includes('"code":"DEP0123"'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      await expect.poll(logged).toMatchObject([{ level: 20, warning: 'DeprecationWarning' }]);
      expect(p.stderr).toBe('');
    } finally {
      await tls.stop();
    }
  });

  it('SIGTERM: stops cleanly with exit 0', async () => {
    const sessions = controller.nextSession();
    const p = agent(await tempStateDir(), [], { COCKPIT_AGENT_JOIN_TOKEN: 'tok' });
    await (await sessions).welcome();
    expect((await p.kill('SIGTERM')).code).toBe(0);
    expect(p.logged('stopped')).toHaveLength(1);
  });
});

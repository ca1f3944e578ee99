import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { PowerOperation, PowerOptions } from '../../src/driver/driver.ts';
import { SharedTicker } from '../../src/driver/simulated/shared-ticker.ts';
import { SimulatedDriver, type SimulatedDriverOptions } from '../../src/driver/simulated/simulated-driver.ts';
import {
  type AgentConfig,
  type AgentHandle,
  type AgentOptions,
  createLogger,
  startAgent,
} from '../../src/index.ts';
import { tempDir } from './temp-dir.ts';

/** A simulated hypervisor that counts the power calls it receives (to prove a command ran at most once). */
export class CountingDriver extends SimulatedDriver {
  readonly calls: Array<{ vmId: string; op: PowerOperation }> = [];
  override power(vmId: string, op: PowerOperation, options?: PowerOptions): Promise<void> {
    this.calls.push({ vmId, op });
    return super.power(vmId, op, options);
  }
}

/** JSON log lines an agent wrote, for tests that check what it says and why. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') this.lines.push(JSON.parse(line));
      done();
    },
  });
  messages(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.msg === msg);
  }
}

export const testTicker = new SharedTicker(25);

export async function tempStateDir(): Promise<string> {
  return join(tempDir('agent-test-'), 'state');
}

export function testConfig(
  controller: string,
  stateDir: string,
  overrides: Partial<AgentConfig> = {},
): AgentConfig {
  const [host = '', port = '0'] = controller.split(':');
  return {
    controller: { host, port: Number(port), target: controller },
    driver: 'simulated',
    libvirtUri: 'qemu:///system',
    migrationUri: '',
    sharedStorage: [],
    stateDir,
    joinToken: undefined,
    tls: { mode: 'insecure-plaintext' },
    hostname: 'vapor-node-01.corp.awan.io',
    logLevel: 'debug',
    resyncIntervalMs: 60_000,
    journalCapacity: 10_000,
    simulated: { vmCount: 3, seed: 'test', changesPerMinute: 0, crashes: false, opDelayMs: 1 },
    ...overrides,
  };
}

export function testDriver(options: Partial<SimulatedDriverOptions> = {}): CountingDriver {
  return new CountingDriver({
    hostname: 'vapor-node-01.corp.awan.io',
    seed: 'test',
    vmCount: 3,
    changesPerMinute: 0,
    crashes: false,
    opDelayMs: 1,
    ticker: testTicker,
    ...options,
  });
}

export interface TestAgent {
  agent: AgentHandle;
  driver: CountingDriver;
  log: LogCapture;
  stateDir: string;
}

/** Starts an agent on a counting simulated driver with fast reconnects, logging into a capture. */
export async function startTestAgent(
  controller: string,
  options: {
    stateDir?: string;
    config?: Partial<AgentConfig>;
    driver?: CountingDriver;
    agent?: Partial<AgentOptions>;
  } = {},
): Promise<TestAgent> {
  const stateDir = options.stateDir ?? (await tempStateDir());
  const log = new LogCapture();
  const driver = options.driver ?? testDriver();
  const config = testConfig(controller, stateDir, options.config);
  const agent = await startAgent({
    config,
    driver,
    log: createLogger('debug', log.stream),
    backoff: { baseMs: 50, capMs: 400 },
    stableAfterMs: 60_000,
    ...options.agent,
  });
  return { agent, driver, log, stateDir };
}

import { afterEach, beforeEach } from 'vitest';
import { ScriptedController } from './scripted-controller.ts';
import { startTestAgent, type TestAgent } from './test-agent.ts';

type AgentOptions = NonNullable<Parameters<typeof startTestAgent>[1]>;

export interface ControllerPerTest {
  /** The running test's controller: a new one for each test. */
  readonly controller: ScriptedController;
  /** Starts an agent that joins this test's controller with the token `tok`; it is closed after the test. */
  agentWith(options?: AgentOptions): Promise<TestAgent>;
}

/**
 * The suites that drive one agent against a scripted controller share this setup: call it at the top of
 * the file. Before each test a fresh controller starts; after it, every agent `agentWith` started is
 * closed, then the controller stops. `defaults` makes the file's agent options afresh for each agent (a driver
 * is not shared between agents); each call's own options come on top.
 */
export function controllerPerTest(
  defaults: () => Omit<AgentOptions, 'config'> = () => ({}),
): ControllerPerTest {
  let current: ScriptedController | undefined;
  const agents: TestAgent[] = [];
  beforeEach(async () => {
    current = await ScriptedController.start();
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.agent.close()));
    await current?.stop();
    current = undefined;
  });
  const env: ControllerPerTest = {
    get controller(): ScriptedController {
      if (current === undefined) throw new Error('the scripted controller exists only while a test runs');
      return current;
    },
    async agentWith(options = {}) {
      const a = await startTestAgent(env.controller.address, {
        ...defaults(),
        ...options,
        config: { joinToken: 'tok', ...options.config },
      });
      agents.push(a);
      return a;
    },
  };
  return env;
}

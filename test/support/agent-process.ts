// The e2e suites run `cockpit-agent` exactly as the agent's own suites do: one implementation, re-exported.
export { AgentProcess } from '../../packages/agent/test/support/agent-process.ts';

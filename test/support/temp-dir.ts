// The e2e suites clean up their folders the same way the agent's suites do (removed after each test
// file, whatever happened): one implementation, re-exported.
export { tempDir } from '../../packages/agent/test/support/temp-dir.ts';

import { afterEach, expect, it, vi } from 'vitest';
import { createLogger } from './logger.ts';
import { logProcessWarnings } from './process-warnings.ts';

const saved = process.listeners('warning');
afterEach(() => {
  process.removeAllListeners('warning');
  for (const listener of saved) process.on('warning', listener);
});

it('logs process warnings with their code instead of printing them: DEP0123 at debug, the others at warn', async () => {
  const lines: Array<Record<string, unknown>> = [];
  logProcessWarnings(createLogger('debug', { write: (line: string) => lines.push(JSON.parse(line)) }));
  // Node's printer is gone: ours is the only listener.
  expect(process.listenerCount('warning')).toBe(1);
  process.emitWarning('something odd', { code: 'COCKPIT_TEST' });
  process.emitWarning('the TLS server name is an IP address', {
    type: 'DeprecationWarning',
    code: 'DEP0123',
  });
  await vi.waitFor(() => expect(lines).toHaveLength(2));
  expect(lines).toMatchObject([
    { level: 40, code: 'COCKPIT_TEST', warning: 'Warning', msg: 'something odd' },
    {
      level: 20,
      code: 'DEP0123',
      warning: 'DeprecationWarning',
      msg: 'the TLS server name is an IP address',
    },
  ]);
});

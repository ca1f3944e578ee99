import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';

describe('createLogger', () => {
  it('writes JSON lines with an ISO time and the service, and redacts credentials', () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    log.info(
      {
        password: 'hunter2',
        refresh_token: 'rt',
        body: { username: 'ann', password: 'pw', new_password: 'np', refresh_token: 'rt2' },
        headers: { authorization: 'Bearer abc', accept: 'application/json' },
      },
      'login',
    );
    log.debug('not at info');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 30,
      service: 'cockpit-controller',
      msg: 'login',
      password: '[redacted]',
      refresh_token: '[redacted]',
      body: {
        username: 'ann',
        password: '[redacted]',
        new_password: '[redacted]',
        refresh_token: '[redacted]',
      },
      headers: { authorization: '[redacted]', accept: 'application/json' },
    });
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines[0]).not.toMatch(/hunter2|abc|"pw"|"np"|rt2/);
  });
});

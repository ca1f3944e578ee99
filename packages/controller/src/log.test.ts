import { execFileSync } from 'node:child_process';
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

  it('writes readable lines to a terminal and JSON to anything else (a real pseudo-terminal by script(1))', () => {
    const program = `const { createLogger } = await import('./src/log.ts');
      createLogger('info').info({ requestId: 'r-1', password: 'hunter2' }, 'hello there');`;
    const node = `${process.execPath} --import tsx -e "${program.replaceAll('"', '\\"').replaceAll('\n', ' ')}"`;
    const onTerminal = execFileSync('script', ['-qec', node, '/dev/null'], {
      cwd: import.meta.dirname + '/..',
      encoding: 'utf8',
    });
    expect(onTerminal).toMatch(/INFO.*hello there/);
    expect(onTerminal).toContain('r-1');
    expect(onTerminal).not.toContain('hunter2');
    expect(() => JSON.parse(onTerminal.trim().split('\n')[0] ?? '')).toThrow();
    const piped = execFileSync('sh', ['-c', node], { cwd: import.meta.dirname + '/..', encoding: 'utf8' });
    expect(JSON.parse(piped)).toMatchObject({ msg: 'hello there', requestId: 'r-1', password: '[redacted]' });
  });
});

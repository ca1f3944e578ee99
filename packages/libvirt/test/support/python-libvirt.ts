import { execFileSync } from 'node:child_process';

/**
 * Runs a snippet against Debian's python3-libvirt (the C library) with `conn` opened on `uri`, and
 * returns what it prints as JSON: the reference our client's answers are compared with.
 */
export function pythonLibvirt(uri: string, body: string): unknown {
  const script = `import json, libvirt\nconn = libvirt.open(${JSON.stringify(uri)})\n${body}\n`;
  // /usr/bin/python3 is the Debian interpreter that has the libvirt module (not a pyenv one on PATH).
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' }));
}

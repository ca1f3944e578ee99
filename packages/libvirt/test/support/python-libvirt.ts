import { execFile, execFileSync } from 'node:child_process';

// /usr/bin/python3 is the Debian interpreter that has the libvirt module (not a pyenv one on PATH).
const PYTHON = '/usr/bin/python3';

function script(uri: string, body: string): string {
  return `import json, libvirt\nconn = libvirt.open(${JSON.stringify(uri)})\n${body}\n`;
}

/**
 * Runs a snippet against Debian's python3-libvirt (the C library) with `conn` opened on `uri`, and
 * returns what it prints as JSON: the reference our client's answers are compared with.
 */
export function pythonLibvirt(uri: string, body: string): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', script(uri, body)], { encoding: 'utf8' }));
}

/** The same without blocking the event loop: for when this process also serves the connection. */
export function pythonLibvirtAsync(uri: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      ['-c', script(uri, body)],
      { encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`python3-libvirt failed: ${stderr}`, { cause: err }));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

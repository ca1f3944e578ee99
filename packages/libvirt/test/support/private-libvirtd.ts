import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../harness/wait-for.ts';

/** A libvirtd of our own for one test file: its sockets in a temp dir, its state dirs private. */
export interface PrivateLibvirtd {
  dir: string;
  socketPath: string;
  /** `test+unix:///default?socket=…` etc. */
  uri(driver: 'test' | 'qemu', path?: string): string;
  log(): string;
  /** Sends a signal to the libvirtd process (SIGSTOP to freeze it, SIGKILL to crash it). */
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts `libvirtd -f <dir>/libvirtd.conf` in a private mount namespace whose /run/libvirt,
 * /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are fresh tmpfs mounts, so it never
 * collides with another daemon on the machine (driver pid files, locks, domain state).
 * Needs root, as libvirt's system daemon does.
 */
export interface PrivateLibvirtdOptions {
  /** Also listen for TLS on 127.0.0.1:port with the certificates of `makeTestPki(pkiDir)`. */
  tls?: { port: number; pkiDir: string };
  /** Also listen for plain TCP on 127.0.0.1:port, without authentication. */
  tcpPort?: number;
}

export async function startPrivateLibvirtd(opts: PrivateLibvirtdOptions = {}): Promise<PrivateLibvirtd> {
  const dir = mkdtempSync(join(tmpdir(), 'cockpit-libvirtd-'));
  const socketPath = join(dir, 'libvirt-sock');
  writeFileSync(
    join(dir, 'libvirtd.conf'),
    [
      `listen_tls = ${opts.tls ? 1 : 0}`,
      `listen_tcp = ${opts.tcpPort ? 1 : 0}`,
      ...(opts.tcpPort ? [`tcp_port = "${opts.tcpPort}"`, 'auth_tcp = "none"'] : []),
      'listen_addr = "127.0.0.1"',
      `unix_sock_dir = "${dir}"`,
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      `log_outputs = "3:file:${join(dir, 'libvirtd.log')}"`,
      ...(opts.tls
        ? [
            `tls_port = "${opts.tls.port}"`,
            'auth_tls = "none"',
            `ca_file = "${opts.tls.pkiDir}/cacert.pem"`,
            `cert_file = "${opts.tls.pkiDir}/servercert.pem"`,
            `key_file = "${opts.tls.pkiDir}/serverkey.pem"`,
          ]
        : []),
    ].join('\n'),
  );
  const script = [
    'set -e',
    'for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do',
    '  mkdir -p "$d" && mount -t tmpfs tmpfs "$d"',
    'done',
    `exec libvirtd ${opts.tls || opts.tcpPort ? '--listen ' : ''}-f "${dir}/libvirtd.conf" -p "${dir}/libvirtd.pid"`,
  ].join('\n');
  const child: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => {
    exited = true;
  });
  const log = () => {
    try {
      return readFileSync(join(dir, 'libvirtd.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitFor(async () => ((await canConnect(socketPath)) ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `libvirtd socket ${socketPath}`,
      // A daemon that died will never open its socket: stop at once.
      stopIf: () => exited,
    });
  } catch (err) {
    const message = `libvirtd did not start: ${stderr}\n${log()}`;
    // Leave nothing behind: neither a daemon that may still come up nor its folder.
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error(message, { cause: err });
  }
  return {
    dir,
    socketPath,
    uri: (driver, path = driver === 'test' ? '/default' : '/system') =>
      `${driver}+unix://${path}?socket=${socketPath}`,
    log,
    signal(sig) {
      const pid = Number(readFileSync(join(dir, 'libvirtd.pid'), 'utf8').trim());
      process.kill(pid, sig);
    },
    async stop() {
      if (!exited) child.kill('SIGCONT');
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

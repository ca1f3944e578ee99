import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { type AgentConfig, parseCommandLine } from './agent-config.ts';
import { isConfigError } from './config-error.ts';
import { helpText, OPTIONS } from './options.ts';

const run = (argv: string[], env: Record<string, string> = {}): AgentConfig => {
  const parsed = parseCommandLine(argv, env, '/work');
  if (parsed.kind !== 'run') throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.config;
};

const problemsOf = (argv: string[], env: Record<string, string> = {}) => {
  try {
    parseCommandLine(argv, env, '/work');
  } catch (err) {
    if (isConfigError(err)) return err.problems.map((p) => `${p.setting}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
};

const caPem = (() => {
  const dir = tempDir('ca-');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
    ],
    { stdio: 'ignore' },
  );
  return join(dir, 'ca.pem');
})();

describe('parseCommandLine', () => {
  it('defaults', () => {
    const config = run(['--controller', '127.0.0.1:8443', '--insecure-plaintext']);
    expect(config).toMatchObject({
      controller: { host: '127.0.0.1', port: 8443, target: '127.0.0.1:8443' },
      driver: 'libvirt',
      libvirtUri: 'qemu:///system',
      migrationUri: '',
      stateDir: '/var/lib/cockpit-agent',
      tls: { mode: 'insecure-plaintext' },
      logLevel: 'info',
      resyncIntervalMs: 60_000,
      journalCapacity: 10_000,
      simulated: { vmCount: 5, seed: '1', changesPerMinute: 2, crashes: false, opDelayMs: 250 },
    });
    expect(config.joinToken).toBeUndefined();
    expect(config.hostname.length).toBeGreaterThan(0);
  });

  it('reads environment variables; flags win; relative paths are anchored at cwd', () => {
    const config = run(['--driver=simulated', '--sim-vms', '50'], {
      COCKPIT_AGENT_CONTROLLER: 'ctl.example:9443',
      COCKPIT_AGENT_DRIVER: 'libvirt',
      COCKPIT_AGENT_CA_SHA256: `sha256:${'AB:'.repeat(31)}AB`,
      COCKPIT_AGENT_STATE_DIR: 'state',
      COCKPIT_AGENT_JOIN_TOKEN: 'tok',
      COCKPIT_AGENT_SIM_CRASHES: 'yes',
      COCKPIT_AGENT_SIM_CHANGE_RATE: '0.5',
      COCKPIT_AGENT_HOSTNAME: 'vapor-node-01.corp.awan.io',
      COCKPIT_AGENT_LOG_LEVEL: '',
    });
    expect(config.driver).toBe('simulated');
    expect(config.tls).toEqual({ mode: 'ca-sha256', fingerprint: 'ab'.repeat(32) });
    expect(config.stateDir).toBe('/work/state');
    expect(config.joinToken).toBe('tok');
    expect(config.simulated).toMatchObject({ vmCount: 50, crashes: true, changesPerMinute: 0.5 });
    expect(config.hostname).toBe('vapor-node-01.corp.awan.io');
    expect(config.logLevel).toBe('info');
  });

  it('derives the migration URI from a libvirt URI that names a host, unless set', () => {
    const base = ['--controller', 'localhost:1', '--insecure-plaintext'];
    expect(run([...base, '--libvirt-uri', 'qemu+tcp://10.0.0.2:16509/system']).migrationUri).toBe(
      'qemu+tcp://10.0.0.2:16509/system',
    );
    expect(run([...base, '--migration-uri', 'qemu+tls://node-02.example/system']).migrationUri).toBe(
      'qemu+tls://node-02.example/system',
    );
  });

  it('a simulated host takes migrations on any free loopback port unless set; other URIs are refused', () => {
    const base = ['--controller', 'localhost:1', '--insecure-plaintext', '--driver', 'simulated'];
    expect(run(base).migrationUri).toBe('sim+tcp://127.0.0.1:0');
    expect(run([...base, '--migration-uri', 'sim+tcp://127.0.0.1:7411']).migrationUri).toBe(
      'sim+tcp://127.0.0.1:7411',
    );
    expect(run([...base, '--migration-uri', '']).migrationUri).toBe('');
    for (const uri of ['sim://node-07', 'qemu+tcp://10.0.0.2/system', 'sim+tcp://127.0.0.1:70000']) {
      expect(problemsOf([...base, '--migration-uri', uri])).toEqual([
        '--migration-uri (COCKPIT_AGENT_MIGRATION_URI): simulated: must be sim+tcp://<address>:<port> (port 0: any free port), or empty',
      ]);
    }
  });

  it('--shared-storage: absolute folders, comma-separated', () => {
    const base = ['--controller', 'localhost:1', '--insecure-plaintext'];
    expect(run(base).sharedStorage).toEqual([]);
    expect(run([...base, '--shared-storage', '/srv/images/, /mnt/san']).sharedStorage).toEqual([
      '/srv/images',
      '/mnt/san',
    ]);
    expect(problemsOf([...base, '--shared-storage', '/srv/images,images,./x'])).toEqual([
      '--shared-storage (COCKPIT_AGENT_SHARED_STORAGE): must be absolute folders: images, ./x',
    ]);
  });

  it('reads the CA file at once', () => {
    const config = run(['--controller', 'ctl:443', '--ca-file', caPem]);
    expect(config.tls).toMatchObject({ mode: 'ca-file', caFile: caPem });
    expect(config.tls.mode === 'ca-file' && config.tls.caPem).toContain('BEGIN CERTIFICATE');
  });

  it('reports every problem in one error', () => {
    expect(
      problemsOf(
        ['--driver', 'xen', '--bogus', 'stray', '--journal-size', '12', '--sim-vms=-3', '--log-level'],
        { COCKPIT_AGENT_LIBVIRT_URI: 'qemu+ssh://h/system', COCKPIT_AGENT_SIM_CRASHES: 'maybe' },
      ),
    ).toEqual([
      '--bogus: unknown option',
      'stray: unexpected argument',
      '--log-level: needs a value <level>',
      '--controller (COCKPIT_AGENT_CONTROLLER): required',
      '--driver (COCKPIT_AGENT_DRIVER): must be one of libvirt, simulated',
      "--libvirt-uri (COCKPIT_AGENT_LIBVIRT_URI): unsupported transport 'ssh' in qemu+ssh://h/system",
      '--ca-file (COCKPIT_AGENT_CA_FILE): say how to trust the controller: --ca-file, --ca-sha256 or (loopback only) --insecure-plaintext',
      '--journal-size (COCKPIT_AGENT_JOURNAL_SIZE): must be a whole number from 100 to 10000000',
      '--sim-vms (COCKPIT_AGENT_SIM_VMS): must be a whole number from 0 to 100000',
      '--sim-crashes (COCKPIT_AGENT_SIM_CRASHES): must be true or false',
    ]);
  });

  it('refuses plaintext to a controller that is not on loopback, and two trust modes at once', () => {
    expect(problemsOf(['--controller', '10.1.2.3:8443', '--insecure-plaintext'])).toEqual([
      '--insecure-plaintext (COCKPIT_AGENT_INSECURE_PLAINTEXT): refused for 10.1.2.3: plaintext is only for a controller on loopback',
    ]);
    for (const host of ['127.0.0.1', '127.9.9.9', 'localhost', '[::1]']) {
      expect(run(['--controller', `${host}:1`, '--insecure-plaintext']).tls.mode).toBe('insecure-plaintext');
    }
    expect(problemsOf(['--controller', 'c:1', '--insecure-plaintext', '--ca-file', caPem])).toEqual([
      '--ca-file (COCKPIT_AGENT_CA_FILE): choose one of --ca-file, --ca-sha256 and --insecure-plaintext',
    ]);
  });

  it('bad addresses, fingerprints and CA files', () => {
    const missing = join(tmpdir(), 'no-such-ca.pem');
    const notPem = join(tempDir('x-'), 'x.pem');
    writeFileSync(notPem, 'hello');
    expect(problemsOf(['--controller', 'nope', '--ca-sha256', 'abc'])).toEqual([
      '--controller (COCKPIT_AGENT_CONTROLLER): must be host:port (e.g. controller.example:8443 or [::1]:8443)',
      '--ca-sha256 (COCKPIT_AGENT_CA_SHA256): must be a SHA-256 fingerprint: 64 hex digits, colons and a sha256: prefix allowed',
    ]);
    expect(problemsOf(['--controller', 'c:70000', '--ca-file', missing])).toEqual([
      '--controller (COCKPIT_AGENT_CONTROLLER): the port must be 1-65535',
      `--ca-file (COCKPIT_AGENT_CA_FILE): ${missing}: no such file`,
    ]);
    expect(problemsOf(['--controller', 'c:1', '--ca-file', notPem])).toEqual([
      `--ca-file (COCKPIT_AGENT_CA_FILE): ${notPem}: not a readable PEM certificate`,
    ]);
  });

  it('--help and --version', () => {
    expect(parseCommandLine(['--help', '--bogus'], {})).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'], {})).toEqual({ kind: 'version' });
    const help = helpText();
    for (const spec of Object.values(OPTIONS)) {
      expect(help).toContain(`--${spec.flag}`);
      expect(help).toContain(spec.env);
    }
  });
});

describe('metrics settings', () => {
  const base = ['--controller', '127.0.0.1:8443', '--insecure-plaintext'];

  it('defaults: every 10 s, 30 minutes or 100,000 samples kept, /metrics on loopback port 9480, no token', () => {
    expect(run(base).metrics).toEqual({
      intervalMs: 10_000,
      bufferMaxAgeMs: 1_800_000,
      bufferMaxSamples: 100_000,
      listen: { host: '127.0.0.1', port: 9480 },
      listenIsDefault: true,
      token: undefined,
    });
  });

  it('reads the interval, the bounds, the listen address (or off) and a token', () => {
    const config = run([...base, '--metrics-interval', '1', '--metrics-listen', ':9100'], {
      COCKPIT_AGENT_METRICS_BUFFER_AGE: '600',
      COCKPIT_AGENT_METRICS_BUFFER_MAX: '5000',
      COCKPIT_AGENT_METRICS_TOKEN: 's3cret-s3cret-s3cret',
    });
    expect(config.metrics).toEqual({
      intervalMs: 1_000,
      bufferMaxAgeMs: 600_000,
      bufferMaxSamples: 5_000,
      listen: { host: '::', port: 9100 },
      listenIsDefault: false,
      token: 's3cret-s3cret-s3cret',
    });
    expect(run([...base, '--metrics-listen', '[::1]:0']).metrics?.listen).toEqual({ host: '::1', port: 0 });
    expect(run([...base, '--metrics-listen', 'OFF']).metrics?.listen).toBeUndefined();
  });

  it('reports bad values together', () => {
    expect(
      problemsOf([
        ...base,
        '--metrics-interval',
        '0.5',
        '--metrics-buffer-max',
        '10',
        '--metrics-listen',
        'localhost',
        '--metrics-token',
        'short',
      ]),
    ).toEqual([
      '--metrics-listen (COCKPIT_AGENT_METRICS_LISTEN): must be host:port (e.g. 127.0.0.1:9480, [::1]:9480, :9480 for every address) or off',
      '--metrics-token (COCKPIT_AGENT_METRICS_TOKEN): must be at least 16 printable characters without spaces',
      '--metrics-interval (COCKPIT_AGENT_METRICS_INTERVAL): must be a number from 1 to 3600',
      '--metrics-buffer-max (COCKPIT_AGENT_METRICS_BUFFER_MAX): must be a whole number from 1000 to 100000000',
    ]);
    expect(
      problemsOf([...base, '--metrics-listen', 'off', '--metrics-token', 'a-long-enough-token']),
    ).toEqual(['--metrics-token (COCKPIT_AGENT_METRICS_TOKEN): needs --metrics-listen (it is off)']);
  });
});

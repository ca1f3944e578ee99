/** One setting: a flag and the environment variable that also sets it (the flag wins). */
export interface OptionSpec {
  flag: string;
  env: string;
  boolean?: true;
  /** Shown in --help after the flag, e.g. `<host:port>`. */
  value?: string;
  help: string;
  default?: string;
}

export const OPTIONS = {
  controller: {
    flag: 'controller',
    env: 'COCKPIT_AGENT_CONTROLLER',
    value: '<host:port>',
    help: "the controller's gRPC address (required)",
  },
  driver: {
    flag: 'driver',
    env: 'COCKPIT_AGENT_DRIVER',
    value: '<libvirt|simulated>',
    help: 'hypervisor driver; simulated is an in-memory hypervisor for demos and scale tests',
    default: 'libvirt',
  },
  libvirtUri: {
    flag: 'libvirt-uri',
    env: 'COCKPIT_AGENT_LIBVIRT_URI',
    value: '<uri>',
    help: 'libvirt URI of the local hypervisor',
    default: 'qemu:///system',
  },
  migrationUri: {
    flag: 'migration-uri',
    env: 'COCKPIT_AGENT_MIGRATION_URI',
    value: '<uri>',
    help: "libvirt URI under which other hosts' libvirtd reach this one (live migration); empty: not a migration target",
    default:
      '--libvirt-uri when it names a host, else empty; simulated: sim+tcp://127.0.0.1:0 (listens on any free loopback port)',
  },
  sharedStorage: {
    flag: 'shared-storage',
    env: 'COCKPIT_AGENT_SHARED_STORAGE',
    value: '<dir,...>',
    help: 'live migration: folders (as libvirtd sees them) every host mounts at the same path, on storage libvirt does not recognise as shared; their disks stay in place (VIR_MIGRATE_UNSAFE) instead of being refused or copied',
  },
  stateDir: {
    flag: 'state-dir',
    env: 'COCKPIT_AGENT_STATE_DIR',
    value: '<dir>',
    help: 'state folder (0700): credential, cursor, command record, pinned CA',
    default: '/var/lib/cockpit-agent',
  },
  joinToken: {
    flag: 'join-token',
    env: 'COCKPIT_AGENT_JOIN_TOKEN',
    value: '<token>',
    help: 'single-use token from POST /api/v1/hosts/join-tokens; needed only while the state folder has no credential',
  },
  caFile: {
    flag: 'ca-file',
    env: 'COCKPIT_AGENT_CA_FILE',
    value: '<pem>',
    help: "the controller's CA certificate (PEM)",
  },
  caSha256: {
    flag: 'ca-sha256',
    env: 'COCKPIT_AGENT_CA_SHA256',
    value: '<hex>',
    help: "SHA-256 fingerprint of the controller's CA certificate: fetched on first contact, kept if it matches",
  },
  insecurePlaintext: {
    flag: 'insecure-plaintext',
    env: 'COCKPIT_AGENT_INSECURE_PLAINTEXT',
    boolean: true,
    help: 'no TLS; only for a controller on loopback (development)',
  },
  hostname: {
    flag: 'hostname',
    env: 'COCKPIT_AGENT_HOSTNAME',
    value: '<name>',
    help: 'the name this host reports',
    default: "the machine's hostname",
  },
  logLevel: {
    flag: 'log-level',
    env: 'COCKPIT_AGENT_LOG_LEVEL',
    value: '<level>',
    help: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  },
  resyncInterval: {
    flag: 'resync-interval',
    env: 'COCKPIT_AGENT_RESYNC_INTERVAL',
    value: '<seconds>',
    help: 'libvirt: re-list every VM this often, so no drift survives a missed event',
    default: '60',
  },
  journalSize: {
    flag: 'journal-size',
    env: 'COCKPIT_AGENT_JOURNAL_SIZE',
    value: '<n>',
    help: 'changes kept for replay; beyond it a reconnect sends a snapshot',
    default: '10000',
  },
  simVms: {
    flag: 'sim-vms',
    env: 'COCKPIT_AGENT_SIM_VMS',
    value: '<n>',
    help: 'simulated: VMs on the host',
    default: '5',
  },
  simSeed: {
    flag: 'sim-seed',
    env: 'COCKPIT_AGENT_SIM_SEED',
    value: '<text>',
    help: 'simulated: seed of every random choice (with the hostname)',
    default: '1',
  },
  simChangeRate: {
    flag: 'sim-change-rate',
    env: 'COCKPIT_AGENT_SIM_CHANGE_RATE',
    value: '<per-minute>',
    help: 'simulated: random VM changes per minute',
    default: '2',
  },
  simCrashes: {
    flag: 'sim-crashes',
    env: 'COCKPIT_AGENT_SIM_CRASHES',
    boolean: true,
    help: 'simulated: random changes include guest crashes',
  },
  simOpDelay: {
    flag: 'sim-op-delay',
    env: 'COCKPIT_AGENT_SIM_OP_DELAY_MS',
    value: '<ms>',
    help: 'simulated: how long a power call takes',
    default: '250',
  },
  metricsInterval: {
    flag: 'metrics-interval',
    env: 'COCKPIT_AGENT_METRICS_INTERVAL',
    value: '<seconds>',
    help: "sample performance metrics this often (1-3600) until the controller's Welcome sets the period",
    default: '10',
  },
  metricsBufferAge: {
    flag: 'metrics-buffer-age',
    env: 'COCKPIT_AGENT_METRICS_BUFFER_AGE',
    value: '<seconds>',
    help: 'while disconnected, keep samples this far back (older ones are dropped and counted)',
    default: '1800',
  },
  metricsBufferMax: {
    flag: 'metrics-buffer-max',
    env: 'COCKPIT_AGENT_METRICS_BUFFER_MAX',
    value: '<samples>',
    help: 'while disconnected, keep at most this many samples (one per VM and one per host each period)',
    default: '100000',
  },
  metricsListen: {
    flag: 'metrics-listen',
    env: 'COCKPIT_AGENT_METRICS_LISTEN',
    value: '<host:port|off>',
    help: "the agent's own Prometheus /metrics endpoint (:port listens on every address)",
    default: '127.0.0.1:9480',
  },
  metricsToken: {
    flag: 'metrics-token',
    env: 'COCKPIT_AGENT_METRICS_TOKEN',
    value: '<token>',
    help: '/metrics answers only requests with Authorization: Bearer <token> (16+ characters)',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

export function helpText(): string {
  const rows = Object.values(OPTIONS as Record<string, OptionSpec>).map((o) => {
    const left = `  --${o.flag}${o.value === undefined ? '' : ` ${o.value}`}`;
    const def = o.default === undefined ? '' : ` (default: ${o.default})`;
    return `${left}\n      ${o.help}${def}\n      env ${o.env}${o.boolean ? '=true|false' : ''}`;
  });
  return [
    'Usage: cockpit-agent [options]',
    '',
    'Reports this hypervisor to a Cockpit controller and carries out its commands.',
    'Every option can also be set by its environment variable; a flag wins over the variable.',
    'TLS: exactly one of --ca-file, --ca-sha256, --insecure-plaintext.',
    '',
    'Options:',
    ...rows,
    '  --help     print this and exit',
    '  --version  print the version and exit',
    '',
  ].join('\n');
}

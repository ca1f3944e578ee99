export interface ConfigProblem {
  /** The flag and its environment variable, e.g. `--controller (COCKPIT_AGENT_CONTROLLER)`. */
  setting: string;
  message: string;
}

/** A configuration the agent must not start with: every problem at once, so one try shows them all. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  ${p.setting}: ${p.message}`).join('\n')}\n` +
        'Run cockpit-agent --help for every setting.',
    );
  }
}

export const isConfigError = (err: unknown): err is ConfigError => err instanceof ConfigError;

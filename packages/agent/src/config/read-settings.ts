import type { ConfigProblem } from './config-error.ts';
import { OPTIONS, type OptionName, type OptionSpec } from './options.ts';

export type RawSettings = Partial<Record<OptionName, string>>;

export interface ReadResult {
  settings: RawSettings;
  help: boolean;
  version: boolean;
  problems: ConfigProblem[];
}

const byFlag = new Map<string, [OptionName, OptionSpec]>(
  (Object.entries(OPTIONS) as Array<[OptionName, OptionSpec]>).map(([name, spec]) => [
    spec.flag,
    [name, spec],
  ]),
);

/**
 * Gathers raw values: environment variables first, flags over them. `--flag value`, `--flag=value`, and
 * for booleans a bare `--flag`. Empty variables count as unset. Unknown flags and stray words are problems.
 */
export function readSettings(argv: readonly string[], env: Record<string, string | undefined>): ReadResult {
  const settings: RawSettings = {};
  const problems: ConfigProblem[] = [];
  for (const [name, spec] of byFlag.values()) {
    const value = env[spec.env];
    if (value !== undefined && value.trim() !== '') settings[name] = value.trim();
  }
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--version') version = true;
    else if (!arg.startsWith('--')) problems.push({ setting: arg, message: 'unexpected argument' });
    else {
      const eq = arg.indexOf('=');
      const flag = arg.slice(2, eq === -1 ? undefined : eq);
      const known = byFlag.get(flag);
      if (known === undefined) {
        problems.push({ setting: `--${flag}`, message: 'unknown option' });
        continue;
      }
      const [name, spec] = known;
      if (eq !== -1) settings[name] = arg.slice(eq + 1);
      else if (spec.boolean) settings[name] = 'true';
      else if (i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('--')) settings[name] = argv[++i];
      else problems.push({ setting: `--${flag}`, message: `needs a value ${spec.value ?? ''}`.trim() });
    }
  }
  return { settings, help, version, problems };
}

/** `--flag (ENV)`: how a problem names its setting. */
export const settingName = (name: OptionName): string => `--${OPTIONS[name].flag} (${OPTIONS[name].env})`;

import packageJson from '../package.json' with { type: 'json' };

/** The agent's version, as Hello and Join report it. */
export const AGENT_VERSION: string = packageJson.version;

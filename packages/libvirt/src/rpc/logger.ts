/** Where the client reports things it survives (unknown serials, stray packets). Silent by default. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  debug() {},
  warn() {},
};

/** Raised when bytes do not decode as the XDR the protocol promises, or a value cannot be encoded. */
export class XdrError extends Error {
  readonly code = 'XDR' as const;
  override readonly name = 'XdrError';
}

export function isXdrError(err: unknown): err is XdrError {
  return err instanceof XdrError;
}

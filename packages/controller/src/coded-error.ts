/**
 * The base of the controller's typed errors: a `code` from a closed set, a message a person can act on,
 * and the error it was caused by. Callers tell errors apart by class and code through predicates
 * (`isMigrationError(err)`, `isServiceError(err, 'not_found')`), never by message text. `name` is the
 * subclass's own, so logs and stack traces say which error it is.
 */
export abstract class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

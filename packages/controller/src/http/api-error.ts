// The one error type handlers throw. Its closed set of codes maps to HTTP status in one place
// (statusOf), and onError turns it into the one envelope { error: { code, message, requestId, details? } }.

export const API_ERROR_STATUS = {
  validation_failed: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal: 500,
  service_unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/** One failing field of a request: where it is (`body.username`, `query.limit`) and what is wrong. */
export interface FieldIssue {
  path: string;
  message: string;
}

export interface ApiErrorOptions {
  details?: unknown;
  /** Extra response headers, e.g. `WWW-Authenticate` on 401 or `Retry-After` on 429. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  get status(): (typeof API_ERROR_STATUS)[ApiErrorCode] {
    return statusOf(this.code);
  }
}

export function statusOf(code: ApiErrorCode): (typeof API_ERROR_STATUS)[ApiErrorCode] {
  return API_ERROR_STATUS[code];
}

export const isApiError = (err: unknown): err is ApiError => err instanceof ApiError;
export const isApiErrorCode = (err: unknown, code: ApiErrorCode): boolean =>
  isApiError(err) && err.code === code;

import { CodedError } from '../coded-error.ts';

// The one error type of the HTTP layer. Its closed set of codes maps to HTTP status in one table
// (API_ERROR_STATUS), and onError turns it into the one envelope { error: { code, message, requestId, details? } }.
// Domain services throw ServiceError instead; src/http/service-errors.ts maps those to ApiErrors.

export const API_ERROR_STATUS = {
  validation_failed: 400,
  bad_request: 400,
  // A metric series request whose (to - from) / step is past the limit: a larger step is the fix.
  too_many_points: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  // 409s that say which state stands in the way of a VM action, so a client can act on the code alone.
  vm_not_running: 409,
  vm_already_running: 409,
  vm_not_paused: 409,
  vm_already_paused: 409,
  vm_paused: 409,
  host_disconnected: 409,
  operation_in_progress: 409,
  // 409s that say why a migration cannot start, be cancelled or be forced to complete.
  destination_is_source: 409,
  destination_not_migration_target: 409,
  name_in_use: 409,
  insufficient_memory: 409,
  migration_in_progress: 409,
  migration_finished: 409,
  force_complete_not_allowed: 409,
  payload_too_large: 413,
  headers_too_large: 431,
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

export class ApiError extends CodedError<ApiErrorCode> {
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ApiErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(code, message, { cause: options.cause });
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

/** Codes that name a particular reason within their status; never what a bare status becomes. */
const SPECIFIC_CODES: ReadonlySet<ApiErrorCode> = new Set<ApiErrorCode>([
  'validation_failed',
  'too_many_points',
  'vm_not_running',
  'vm_already_running',
  'vm_not_paused',
  'vm_already_paused',
  'vm_paused',
  'host_disconnected',
  'operation_in_progress',
  'destination_is_source',
  'destination_not_migration_target',
  'name_in_use',
  'insufficient_memory',
  'migration_in_progress',
  'migration_finished',
  'force_complete_not_allowed',
]);

// The same table read the other way, general codes only: only validation produces `validation_failed`,
// while a bare 400 (malformed JSON from Hono) is a `bad_request`; a bare 409 is a `conflict`.
const CODE_OF_STATUS = new Map<number, ApiErrorCode>(
  (Object.entries(API_ERROR_STATUS) as Array<[ApiErrorCode, number]>)
    .filter(([code]) => !SPECIFIC_CODES.has(code))
    .map(([code, status]) => [status, code]),
);

/** The code of a bare HTTP status (Hono's HTTPException): its entry in API_ERROR_STATUS, else by class. */
export const codeForStatus = (status: number): ApiErrorCode =>
  CODE_OF_STATUS.get(status) ?? (status < 500 ? 'bad_request' : 'internal');

export const isApiError = (err: unknown): err is ApiError => err instanceof ApiError;
export const isApiErrorCode = (err: unknown, code: ApiErrorCode): boolean =>
  isApiError(err) && err.code === code;

import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { API_ERROR_STATUS, type ApiErrorCode } from './api-error.ts';

/** One failing field of a request (`details` of `validation_failed` and of field-level refusals). */
const FieldIssueSchema = z
  .object({
    path: z
      .string()
      .openapi({ example: 'body.username', description: 'Where: `body.…`, `query.…` or `path.…`.' }),
    message: z.string().openapi({ example: 'must be at least 3 characters' }),
  })
  .openapi('FieldIssue');

/**
 * What `details` holds, by code: the failing fields for `validation_failed` (and a 409 naming a
 * field, such as a taken username); `{retry_after_seconds}` for `too_many_requests`;
 * `{database}` for `service_unavailable` from /readyz. Absent otherwise.
 */
const DetailsSchema = z
  .union([
    z.array(FieldIssueSchema),
    z.object({ retry_after_seconds: z.number().int().min(1) }),
    z.object({ database: z.string() }),
  ])
  .openapi({ description: 'Per code: the failing fields, the seconds to wait, or what is not ready.' });

/** The one error body of the API, for every status. */
export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERROR_STATUS) as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string(),
      requestId: z.string(),
      details: DetailsSchema.optional(),
    }),
  })
  .openapi('Error');

export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

const DESCRIPTIONS: Partial<Record<ApiErrorCode, string>> = {
  validation_failed: 'The request failed validation; `details` names each failing field.',
  bad_request: 'The request is malformed (a body that is not valid JSON).',
  unauthorized: 'No valid bearer token.',
  forbidden: 'The token is valid but its role is not enough.',
  not_found: 'No such resource.',
  conflict: 'The request conflicts with the current state.',
  vm_not_running: 'The VM is not running (or paused), so this action does not apply.',
  vm_already_running: 'The VM is already running.',
  vm_not_paused: 'The VM is not paused.',
  vm_already_paused: 'The VM is already paused.',
  vm_paused: 'The VM is paused: its guest cannot answer a graceful stop (resume it, or stop it with force).',
  host_disconnected: "The VM's host is not connected: its agent cannot receive the command now.",
  operation_in_progress: 'Another operation on this VM has not finished yet.',
  name_in_use: 'Another VM on the destination host has this VM’s name (libvirt keeps names unique per host).',
  insufficient_memory:
    'The destination host has too little memory available for the VM (its latest sample, less the VMs already on their way there).',
  too_many_points:
    'The series would hold more points than a request may ask for: use a larger step or a shorter range.',
  payload_too_large: 'The body is larger than the configured limit.',
  headers_too_large: 'The request headers are larger than 16 KB (answered before any route).',
  unsupported_media_type: 'The body is not JSON.',
  too_many_requests: 'Too many attempts; see `Retry-After`.',
  service_unavailable:
    'The database is unreachable or overloaded for now (retry after `Retry-After` seconds), or, from /readyz, the controller is not ready.',
};

/** What any route with a JSON body can also answer, before its own schema is even checked. */
export const JSON_BODY_ERRORS: readonly ApiErrorCode[] = [
  'bad_request',
  'payload_too_large',
  'unsupported_media_type',
];

/** Headers an answer may carry, documented where they occur. */
const header = (description: string) => ({ description, schema: { type: 'string' as const } });
export const REQUEST_ID_HEADER = {
  'X-Request-Id': header(
    'The request id: the caller’s own (up to 128 plain characters) or a generated one; on every log line of the request.',
  ),
};
const HEADERS_OF: Partial<Record<ApiErrorCode, Record<string, ReturnType<typeof header>>>> = {
  unauthorized: {
    'WWW-Authenticate': header(
      'The bearer challenge (RFC 6750), with `error` and `error_description` for a bad token.',
    ),
  },
  too_many_requests: { 'Retry-After': header('Seconds until another attempt is let through (at least 1).') },
  method_not_allowed: { Allow: header('The methods this path takes.') },
  service_unavailable: { 'Retry-After': header('Seconds to wait before retrying the same request.') },
};

/**
 * OpenAPI `responses` entries for the error statuses a route can answer with; `describe` overrides a
 * code's general description where the route means something more precise (a login's 401). Codes that
 * share a status (the 409s of a VM action) share its entry: each is listed, with its description.
 */
export function errorResponses(
  codes: readonly ApiErrorCode[],
  describe: Partial<Record<ApiErrorCode, string>> = {},
) {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = API_ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<
    number,
    {
      description: string;
      headers: Record<string, ReturnType<typeof header>>;
      content: { 'application/json': { schema: typeof ErrorEnvelopeSchema } };
    }
  > = {};
  const text = (code: ApiErrorCode) => describe[code] ?? DESCRIPTIONS[code] ?? code;
  for (const [status, shared] of byStatus) {
    responses[status] = {
      description:
        shared.length === 1
          ? text(shared[0] as ApiErrorCode)
          : `One of these \`code\`s:\n${shared.map((code) => `- \`${code}\`: ${text(code)}`).join('\n')}`,
      headers: Object.assign({ ...REQUEST_ID_HEADER }, ...shared.map((code) => HEADERS_OF[code] ?? {})),
      content: { 'application/json': { schema: ErrorEnvelopeSchema } },
    };
  }
  return responses;
}

export function errorBody(c: Context, code: ApiErrorCode, message: string, details?: unknown): ErrorEnvelope {
  const requestId = (c.get('requestId') as string | undefined) ?? '';
  return {
    error:
      details === undefined
        ? { code, message, requestId }
        : { code, message, requestId, details: details as ErrorEnvelope['error']['details'] },
  };
}

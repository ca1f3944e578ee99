import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { API_ERROR_STATUS, type ApiErrorCode } from './api-error.ts';

/** The one error body of the API, for every status. */
export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERROR_STATUS) as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string(),
      requestId: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

const DESCRIPTIONS: Partial<Record<ApiErrorCode, string>> = {
  validation_failed: 'The request failed validation; `details` names each failing field.',
  bad_request: 'The request is malformed.',
  unauthorized: 'No valid bearer token.',
  forbidden: 'The token is valid but its role is not enough.',
  not_found: 'No such resource.',
  conflict: 'The request conflicts with the current state.',
  vm_not_running: 'The VM is not running (or paused), so this action does not apply.',
  vm_already_running: 'The VM is already running.',
  vm_not_paused: 'The VM is not paused.',
  vm_already_paused: 'The VM is already paused.',
  host_disconnected: "The VM's host is not connected: its agent cannot receive the command now.",
  operation_in_progress: 'Another operation on this VM has not finished yet.',
  payload_too_large: 'The body is larger than the configured limit.',
  headers_too_large: 'The request headers are larger than 16 KB (answered before any route).',
  unsupported_media_type: 'The body is not JSON.',
  too_many_requests: 'Too many attempts; see `Retry-After`.',
  service_unavailable: 'Not ready to serve.',
};

/** What any route with a JSON body can also answer, before its own schema is even checked. */
export const JSON_BODY_ERRORS: readonly ApiErrorCode[] = ['payload_too_large', 'unsupported_media_type'];

/** OpenAPI `responses` entries for the error statuses a route can answer with. */
export function errorResponses(...codes: ApiErrorCode[]) {
  const responses: Record<
    number,
    { description: string; content: { 'application/json': { schema: typeof ErrorEnvelopeSchema } } }
  > = {};
  for (const code of codes) {
    responses[API_ERROR_STATUS[code]] = {
      description: DESCRIPTIONS[code] ?? code,
      content: { 'application/json': { schema: ErrorEnvelopeSchema } },
    };
  }
  return responses;
}

export function errorBody(c: Context, code: ApiErrorCode, message: string, details?: unknown): ErrorEnvelope {
  const requestId = (c.get('requestId') as string | undefined) ?? '';
  return {
    error: details === undefined ? { code, message, requestId } : { code, message, requestId, details },
  };
}

import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { AuditEntrySchema } from '../audit/audit-schema.ts';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonResponse } from '../http/define-route.ts';
import { isStorableTime, STORABLE_TIME_MESSAGE } from '../http/storable-time.ts';
import { integerQuery, integerQueryOr } from './integer-query.ts';

const timeQuery = (name: string, description: string) =>
  z.iso
    .datetime({ offset: true, error: 'must be an RFC 3339 time such as 2026-12-03T10:00:00Z' })
    .transform((v, ctx) => {
      const ms = Date.parse(v);
      if (!isStorableTime(ms)) {
        ctx.addIssue({ code: 'custom', message: STORABLE_TIME_MESSAGE });
        return z.NEVER;
      }
      return new Date(ms);
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description });

const QuerySchema = z.object({
  limit: integerQueryOr('limit', 50, { min: 1, max: 500, description: 'Page size (1 to 500).' }),
  before: integerQuery('before', {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    description: 'Return entries older than this id.',
  }),
  actor: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .openapi({
      param: { name: 'actor', in: 'query' },
      description: 'Only what this user did: a username or a user id.',
    }),
  action: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .openapi({
      param: { name: 'action', in: 'query' },
      description: 'Only this action, as recorded, e.g. `POST /api/v1/users/:id/disable`.',
    }),
  target: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .openapi({
      param: { name: 'target', in: 'query' },
      description: 'Only calls on this target, e.g. `user:<id>`.',
    }),
  from: timeQuery('from', 'Only entries at or after this time (RFC 3339).'),
  to: timeQuery('to', 'Only entries before this time (RFC 3339).'),
});

const route = authedRoute('admin', {
  method: 'get',
  path: '/api/v1/audit',
  operationId: 'listAuditEntries',
  tags: ['audit'],
  summary: 'Read the audit log, newest first (admins only)',
  description: 'Pass the last entry’s id as `before` (or use `next_before`) for the next page.',
  request: { query: QuerySchema },
  responses: {
    200: jsonResponse(
      'A page of entries.',
      z.object({ entries: z.array(AuditEntrySchema), next_before: z.number().int().nullable() }),
    ),
  },
});

export function registerV1AuditList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { entries, nextBefore } = await c.var.services.audit.list(c.req.valid('query'));
    return c.json({ entries, next_before: nextBefore }, 200);
  });
}

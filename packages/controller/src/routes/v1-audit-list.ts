import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { listAudit } from '../audit/audit-log.ts';
import { BEARER_SECURITY, requireRole } from '../auth/require-role.ts';
import type { AppEnv } from '../http/app-env.ts';
import { errorResponses } from '../http/error-envelope.ts';

const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: 'date-time' }),
    request_id: z.string().nullable(),
    actor_id: z.string().nullable(),
    actor_username: z.string().nullable(),
    action: z.string().openapi({ example: 'POST /api/v1/users/:id/disable' }),
    method: z.string(),
    path: z.string(),
    target: z.string().nullable().openapi({ example: 'user:0195f0c4-0000-4000-8000-000000000000' }),
    result: z.string().openapi({ description: '`success`, or the error code the caller got.' }),
    status: z.number().int(),
    client_address: z.string().nullable(),
  })
  .openapi('AuditEntry');

const QuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' } }),
  before: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .openapi({ param: { name: 'before', in: 'query' }, description: 'Return entries older than this id.' }),
});

const route = createRoute({
  method: 'get',
  path: '/api/v1/audit',
  tags: ['audit'],
  summary: 'Read the audit log, newest first (admins only)',
  description: 'Pass the last entry’s id as `before` (or use `next_before`) for the next page.',
  security: BEARER_SECURITY,
  middleware: [requireRole('admin')] as const,
  request: { query: QuerySchema },
  responses: {
    200: {
      description: 'A page of entries.',
      content: {
        'application/json': {
          schema: z.object({ entries: z.array(AuditEntrySchema), next_before: z.number().int().nullable() }),
        },
      },
    },
    ...errorResponses('validation_failed', 'unauthorized', 'forbidden'),
  },
});

export function registerV1AuditList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { limit, before } = c.req.valid('query');
    const entries = await listAudit(c.var.services.sql, { limit, before });
    const last = entries.at(-1);
    return c.json(
      { entries, next_before: entries.length === limit && last !== undefined ? last.id : null },
      200,
    );
  });
}

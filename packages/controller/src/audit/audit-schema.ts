import { z } from 'zod';

/** One audit log entry as the API shows it (`GET /api/v1/audit`). */
export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string().meta({ format: 'date-time' }),
    request_id: z.string().nullable(),
    actor_id: z.string().nullable(),
    actor_username: z.string().nullable(),
    action: z.string().meta({ example: 'POST /api/v1/users/:id/disable' }),
    method: z.string(),
    path: z.string(),
    target: z.string().nullable().meta({ example: 'user:0195f0c4-0000-4000-8000-000000000000' }),
    result: z.string().meta({ description: '`success`, or the error code the caller got.' }),
    status: z.number().int(),
    client_address: z.string().nullable(),
    detail: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .nullable()
      .meta({
        description:
          'What changed, where the call says more than its action: e.g. `{username, role, previous_role}`.',
        example: { username: 'alice', role: 'operator', previous_role: 'viewer' },
      }),
  })
  .meta({ id: 'AuditEntry' });

export type AuditView = z.infer<typeof AuditEntrySchema>;

/** What an entry point records about one call; the id is the database's. */
export interface NewAuditEntry {
  at: Date;
  requestId: string | null;
  actorId: string | null;
  actorUsername: string | null;
  /** What was attempted: for HTTP the method and route pattern, e.g. `POST /api/v1/users/:id/disable`. */
  action: string;
  method: string;
  path: string;
  /** What it was done to, e.g. `user:<id>`; null when there is no single target. */
  target: string | null;
  /** `success`, or the error code the caller got (`unauthorized`, `conflict`, ...). */
  result: string;
  status: number;
  clientAddress: string | null;
  detail?: Record<string, string | number | boolean | null> | null;
}

/** What `GET /api/v1/audit` may narrow the log to; all given conditions hold together. */
export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  from?: Date;
  to?: Date;
}

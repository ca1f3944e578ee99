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
}

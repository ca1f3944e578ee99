import type { Sql } from '../database/sql.ts';
import { insertAuditEntry, listAuditEntries } from './audit-queries.ts';
import type { AuditFilter, AuditView, NewAuditEntry } from './audit-schema.ts';

export interface AuditPage {
  entries: AuditView[];
  /** The `before` of the next page; null on the last one. */
  nextBefore: number | null;
}

/**
 * The audit log: who did what to which target, and how it ended. Entry points record one entry per
 * mutating call (HTTP: `auditMutations` in src/http); services say what the call was about through
 * the caller's AuditNote.
 */
export interface AuditService {
  record(entry: NewAuditEntry): Promise<void>;
  /** Newest first; `before` is the `nextBefore` of the previous page. */
  list(page: { limit: number; before?: number } & AuditFilter): Promise<AuditPage>;
}

export function createAuditService({ sql }: { sql: Sql }): AuditService {
  return {
    record: (entry) => insertAuditEntry(sql, entry),
    async list(page) {
      const entries = await listAuditEntries(sql, page);
      const last = entries.at(-1);
      return { entries, nextBefore: entries.length === page.limit && last !== undefined ? last.id : null };
    },
  };
}

/**
 * The global change log (`changes`): one row per change of a host, VM or operation, written in the
 * transaction of the change with the API view after it. Its id is the cursor of the coming change feed
 * (SSE `Last-Event-ID`) and of a per-replica list cache. The table's CHECKs list the same values
 * (src/database/check-constraints.test.ts holds them together).
 */
export const CHANGE_KINDS = ['host', 'vm', 'operation'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const CHANGE_OPS = ['upsert', 'delete'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

export interface NewChange {
  kind: ChangeKind;
  entityId: string;
  op: ChangeOp;
  /** The API view after the change; null for a deletion. */
  data: unknown;
}

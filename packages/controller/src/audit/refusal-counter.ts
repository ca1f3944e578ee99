import type { Logger } from 'pino';

/** Why a mutating request was refused before it reached anyone the audit log could name. */
export type RefusalReason = 'no_route' | 'unauthenticated' | 'throttled';

/**
 * Counts mutating requests refused before they reached a route or a known caller, instead of one
 * audit row each (a flood of them must not grow the database). The totals are for /metrics; a
 * summary line is logged at most once a minute while refusals keep coming.
 */
export interface RefusalCounter {
  count(reason: RefusalReason, clientAddress: string): void;
  totals(): Readonly<Record<RefusalReason, number>>;
}

export function createRefusalCounter(deps: { log: Logger; logEveryMs?: number }): RefusalCounter {
  const logEveryMs = deps.logEveryMs ?? 60_000;
  const totals: Record<RefusalReason, number> = { no_route: 0, unauthenticated: 0, throttled: 0 };
  let sinceLine: Record<RefusalReason, number> = { no_route: 0, unauthenticated: 0, throttled: 0 };
  const addresses = new Set<string>();
  let lastLineAt = Number.NEGATIVE_INFINITY;
  return {
    count(reason, clientAddress) {
      totals[reason] += 1;
      sinceLine[reason] += 1;
      if (addresses.size < 20) addresses.add(clientAddress);
      const now = Date.now();
      if (now - lastLineAt < logEveryMs) return;
      lastLineAt = now;
      deps.log.warn(
        { refused: sinceLine, addresses: [...addresses] },
        'mutating requests refused before reaching a route or a known caller (counted, not audited)',
      );
      sinceLine = { no_route: 0, unauthenticated: 0, throttled: 0 };
      addresses.clear();
    },
    totals: () => ({ ...totals }),
  };
}

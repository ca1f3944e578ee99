import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The largest heap (MiB) a fresh process reaches while it keeps ~60 MiB alive and replaces it as a
 * fleet's reports replace VM records, after limitHeapGrowth(percent).
 */
function peakHeapMib(percent: number): number {
  const script = `
    import { limitHeapGrowth } from ${JSON.stringify(join(import.meta.dirname, 'heap-growth.ts'))};
    limitHeapGrowth(${percent});
    const live = [];
    let peak = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 20000; i++) live.push({ id: 'vm-' + round + '-' + i, memory: [round, i], name: 'x'.repeat(60) + i });
      if (live.length > 200000) live.splice(0, 20000);
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    process.stdout.write(String(peak / 1048576));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return Number(out);
}

describe('limitHeapGrowth', () => {
  it('keeps a fast-allocating heap well below where V8 alone lets it grow', () => {
    const unbounded = peakHeapMib(0);
    const bounded = peakHeapMib(50);
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThan(unbounded * 0.8);
  });
});

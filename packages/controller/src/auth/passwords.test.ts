import { describe, expect, it } from 'vitest';
import { createDummyVerifier, hashPassword, verifyPassword } from './passwords.ts';

/** CPU time `run` takes in this process, µs: the argon2 work a call does, whatever else the machine does. */
async function cpuMicros(run: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

describe('passwords', () => {
  it('verifies the right password, refuses a wrong one, and a malformed stored hash never matches', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(stored, 'correct horse battery')).toBe(true);
    expect(await verifyPassword(stored, 'wrong horse battery')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'correct horse battery')).toBe(false);
  });

  it('the dummy check of an unknown user does the work of a real one, so timing reveals nothing', async () => {
    const stored = await hashPassword('correct horse battery');
    const dummy = createDummyVerifier();
    await dummy('warm-up'); // the first call also makes the dummy hash
    // Alternated, medians of 5: process CPU time also counts whatever else the process did meanwhile
    // (a garbage collection, another suite's thread), which one pair of samples cannot tell apart.
    const real: number[] = [];
    const fake: number[] = [];
    for (let i = 0; i < 5; i++) {
      real.push(await cpuMicros(() => verifyPassword(stored, `guess ${i}`)));
      fake.push(await cpuMicros(() => dummy(`guess ${i}`)));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2] as number;
    // Same argon2 parameters: the same work within a wide margin (a skipped check costs ~0).
    expect(median(fake)).toBeGreaterThan(median(real) * 0.4);
  });
});

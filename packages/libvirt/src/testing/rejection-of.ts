/**
 * What `p` rejects with, for assertions with the error predicates (`isNoDomain(await rejectionOf(p))`);
 * throws when `p` fulfils, so a call that wrongly succeeds fails the test.
 */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

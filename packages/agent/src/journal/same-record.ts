/**
 * True when two flat records (a Vm, a HostInfo) hold the same values. Compares every own key of either,
 * so a field added to the wire type later is compared without anyone remembering to add it here.
 */
export function sameRecord<T extends object>(a: T | undefined, b: T): boolean {
  if (a === undefined) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  for (const key of Object.keys(left)) if (left[key] !== right[key]) return false;
  for (const key of Object.keys(right)) if (!(key in left)) return false;
  return true;
}

/** Roles in increasing power: viewers read, operators also act on VMs, admins also manage users and hosts. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const roleAtLeast = (have: Role, need: Role): boolean => ROLES.indexOf(have) >= ROLES.indexOf(need);

/** Who is calling: taken from a verified access token. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** The access token's `jti`. */
  tokenId: string;
}

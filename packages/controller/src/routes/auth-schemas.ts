import { z } from '@hono/zod-openapi';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';
import { ROLES } from '../auth/principal.ts';
import type { User } from '../users/user-store.ts';
import { USERNAME_PATTERN } from '../users/user-store.ts';

// Schemas shared by the auth, users and audit routes.

export const TokenResponseSchema = z
  .object({
    token: z.string().openapi({ description: 'JWT access token; send as `Authorization: Bearer <token>`.' }),
    refresh_token: z.string().openapi({ description: 'Opaque refresh token, good for one use.' }),
    expires_in: z.number().int().openapi({ description: 'Seconds until `token` expires.', example: 3600 }),
  })
  .openapi('TokenResponse');

export const RoleSchema = z.enum(ROLES).openapi('Role');

export const UsernameSchema = z
  .string()
  .regex(
    USERNAME_PATTERN,
    'must be 3-32 characters: a lower-case letter, then lower-case letters, digits, ".", "_" or "-"',
  )
  .openapi({ example: 'alice' });

export const NewPasswordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const UserSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    role: RoleSchema,
    disabled: z.boolean(),
    created_at: z.string().openapi({ format: 'date-time' }),
    updated_at: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('User');

export const UserIdParamsSchema = z.object({
  id: z.uuid('must be a user id (UUID)').openapi({ param: { name: 'id', in: 'path' } }),
});

export const userJson = (u: User): z.infer<typeof UserSchema> => ({
  id: u.id,
  username: u.username,
  role: u.role,
  disabled: u.disabledAt !== null,
  created_at: u.createdAt.toISOString(),
  updated_at: u.updatedAt.toISOString(),
});

import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';
import { ROLES } from '../auth/principal.ts';

// A user as the API shows it, and the rules for the fields a client sends. `meta({ id })` names the
// schema in the OpenAPI document.

export const RoleSchema = z.enum(ROLES).meta({ id: 'Role' });

/** Lower-case letter first, then letters, digits, `.`, `_`, `-`; 3 to 32 characters. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{2,31}$/;

export const UsernameSchema = z
  .string()
  .regex(
    USERNAME_PATTERN,
    'must be 3-32 characters: a lower-case letter, then lower-case letters, digits, ".", "_" or "-"',
  )
  .meta({ example: 'alice' });

export const NewPasswordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const UserSchema = z
  .object({
    id: z.guid(),
    username: z.string(),
    role: RoleSchema,
    disabled: z.boolean(),
    created_at: z.string().meta({ format: 'date-time' }),
    updated_at: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'User' });

export type UserView = z.infer<typeof UserSchema>;

import { z } from 'zod';
import { PASSWORD_MAX_LENGTH } from './passwords.ts';

/** The seed's login and refresh answer, field for field. */
export const TokenResponseSchema = z
  .object({
    token: z.string().meta({ description: 'JWT access token; send as `Authorization: Bearer <token>`.' }),
    refresh_token: z.string().meta({ description: 'Opaque refresh token, good for one use.' }),
    expires_in: z.number().int().meta({ description: 'Seconds until `token` expires.', example: 3600 }),
  })
  .meta({ id: 'TokenResponse' });

export type TokenResponse = z.infer<typeof TokenResponseSchema>;

/** A refresh token as a client sends it back (ours are 43 characters; the bound only stops abuse). */
export const RefreshTokenSchema = z.string().min(1, 'is required').max(512, 'must be at most 512 characters');

/**
 * A password a client presents to be checked (not a new one: no length policy, so a wrong guess is
 * just wrong), bounded like new passwords so checking one is never a denial of service.
 */
export const PresentedPasswordSchema = z
  .string()
  .min(1, 'is required')
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);

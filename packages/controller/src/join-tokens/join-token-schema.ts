import { z } from 'zod';

/** Longest a join token may live: it is a bearer secret that registers a host. */
export const MAX_JOIN_TOKEN_TTL_SECONDS = 3600;
export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 900;

export const CreateJoinTokenSchema = z
  .strictObject({
    ttl_seconds: z
      .number()
      .int()
      .min(60)
      .max(MAX_JOIN_TOKEN_TTL_SECONDS)
      .default(DEFAULT_JOIN_TOKEN_TTL_SECONDS)
      .meta({ description: 'How long the token can be redeemed, 60 to 3600 seconds (default 900).' }),
  })
  .meta({ id: 'CreateJoinToken' });

export const JoinTokenSchema = z
  .object({
    id: z.guid(),
    token: z.string().meta({ description: 'Single use; shown only in this answer.' }),
    expires_at: z.iso.datetime(),
    controller_address: z.string().meta({ description: 'The gRPC address agents dial (host:port).' }),
    ca_sha256: z
      .string()
      .nullable()
      .meta({
        description:
          "SHA-256 fingerprint of the controller's CA certificate, as `openssl x509 -noout -fingerprint " +
          '-sha256` prints it: what `cockpit-agent --ca-sha256` pins. Null when the gRPC listener runs ' +
          'plaintext (loopback development).',
      }),
    agent_command: z.string().meta({ description: 'A ready-to-paste `cockpit-agent` command line.' }),
  })
  .meta({ id: 'JoinToken' });

export type JoinTokenView = z.infer<typeof JoinTokenSchema>;

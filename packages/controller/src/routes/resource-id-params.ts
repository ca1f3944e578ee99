import { z } from '@hono/zod-openapi';

/**
 * The `{id}` of a route about one host, VM or operation: a UUID in any letter case, lower-cased here at
 * the edge, once, so services and queries compare ids as values.
 *
 * Ids are `z.guid()` everywhere, never `z.uuid()`: a VM's id is its libvirt domain UUID, and libvirt
 * takes any 128 bits (a domain's XML may set one of no RFC 9562 version or variant, as VMware's are),
 * which `z.uuid()` refuses. Same rule as `isUuid` in ids.ts.
 */
export const resourceIdParams = (what: string) =>
  z.object({
    id: z
      .guid(`must be a ${what} id (UUID)`)
      .transform((id) => id.toLowerCase())
      .openapi({
        param: { name: 'id', in: 'path' },
        description: `The ${what}'s id (a UUID, any letter case).`,
      }),
  });

/** A UUID in a query string (`?host_id=`), lower-cased. */
export const uuidQuery = (what: string) =>
  z
    .guid(`must be a ${what} id (UUID)`)
    .transform((id) => id.toLowerCase())
    .optional();

/** `?wait=<seconds>`: wait up to that long for the operation to finish before answering. */
export const WaitQuerySchema = z.coerce
  .number()
  .int()
  .min(0)
  .max(60)
  .default(0)
  .openapi({
    param: { name: 'wait', in: 'query' },
    description:
      'Seconds (0 to 60) to wait for the operation to finish before answering: 200 with the final ' +
      'operation when it did, else 202 with it as it stands.',
  });

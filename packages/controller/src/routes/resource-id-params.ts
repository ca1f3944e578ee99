import { z } from '@hono/zod-openapi';
import { integerQueryOr } from './integer-query.ts';

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

/**
 * `?wait=<seconds>`: wait up to that long (0 to 60) for the operation to finish before answering;
 * `answers` says what the route then answers.
 */
export const waitQuery = (answers: string) =>
  integerQueryOr('wait', 0, {
    min: 0,
    max: 60,
    description: `Seconds (0 to 60) to wait for the operation to finish before answering: ${answers}`,
  });

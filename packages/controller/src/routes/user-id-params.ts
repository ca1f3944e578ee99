import { z } from '@hono/zod-openapi';

/** The `{id}` of the /api/v1/users/{id}… routes. */
export const UserIdParamsSchema = z.object({
  id: z.uuid('must be a user id (UUID)').openapi({ param: { name: 'id', in: 'path' } }),
});

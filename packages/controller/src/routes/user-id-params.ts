import { resourceIdParams } from './resource-id-params.ts';

/**
 * The `{id}` of the /api/v1/users/{id}… routes: lower-cased at the edge like every other id, so the
 * "not yourself" and last-admin guards and the user-status cache see one spelling of it.
 */
export const UserIdParamsSchema = resourceIdParams('user');

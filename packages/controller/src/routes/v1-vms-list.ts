import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { roleAtLeast } from '../auth/principal.ts';
import type { Services } from '../create-services.ts';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonTextResponse } from '../http/define-route.ts';
import { type FastRoute, plainQuery } from '../http/fast-lane.ts';
import { type JsonText, jsonText, jsonTextEncoded, sendJsonText } from '../http/json-text.ts';
import { bearerToken } from '../http/require-role.ts';
import type { VmPosition } from '../vms/vm-queries.ts';
import { VM_STATES, VmSchema } from '../vms/vm-schema.ts';
import type { VmPage } from '../vms/vm-service.ts';
import { integerQueryOr } from './integer-query.ts';
import { uuidQuery } from './resource-id-params.ts';

/** The opaque page cursor: where the previous page ended in the list's order (name, id). */
const encodeCursor = (p: VmPosition): string =>
  Buffer.from(JSON.stringify([p.name, p.id])).toString('base64url');

const CursorSchema = z.string().transform((text, ctx): VmPosition => {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      // No page ends on a name holding NUL (PostgreSQL text cannot hold one); refused here, so the fast
      // lane, which skips the validation hook's NUL check, refuses it too.
      !value[0].includes('\u0000') &&
      typeof value[1] === 'string' &&
      z.guid().safeParse(value[1]).success
    ) {
      return { name: value[0], id: value[1] };
    }
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'not a cursor from a previous page (next_cursor)' });
  return z.NEVER;
});

const PageSchema = z.object({
  vms: z.array(VmSchema),
  next_cursor: z.string().nullable().meta({ description: 'The cursor of the next page; null on the last.' }),
});

const ListQuerySchema = z.object({
  host_id: uuidQuery('host').openapi({ description: 'Only the VMs on this host' }),
  state: z.enum(VM_STATES).optional().openapi({ description: 'Only the VMs in this state' }),
  name: z.string().min(1).max(255).optional().openapi({ description: 'Only the VMs with this name' }),
  limit: integerQueryOr('limit', 100, { min: 1, max: 1000, description: 'Page size (1 to 1000)' }),
  cursor: CursorSchema.optional().openapi({
    type: 'string',
    description: 'The previous page’s next_cursor',
  }),
});

const ROLE = 'viewer';

const route = authedRoute(ROLE, {
  method: 'get',
  path: '/api/v1/vms',
  operationId: 'listVms',
  tags: ['vms'],
  summary: 'List the virtual machines of the cluster',
  description:
    'By name (then id), a page at a time: pass `next_cursor` as `cursor` for the next page. A VM whose ' +
    "host's agent is not connected keeps its last reported state and is marked `stale`.",
  request: {
    query: ListQuerySchema,
  },
  responses: {
    200: jsonTextResponse('A page of VMs, by name', PageSchema),
  },
});

/** The response body of a page: serialised once per page while the VMs don't change (VmCache). */
const renderPage = (page: VmPage): JsonText<z.infer<typeof PageSchema>> =>
  jsonText({ vms: page.vms, next_cursor: page.next === null ? null : encodeCursor(page.next) });

const listPage = (services: Services, query: z.infer<typeof ListQuerySchema>) =>
  services.vms.listRendered(
    { hostId: query.host_id, state: query.state, name: query.name },
    { limit: query.limit, after: query.cursor },
    renderPage,
  );

export function registerV1VmsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => sendJsonText(c, await listPage(c.var.services, c.req.valid('query')), 200));
}

const QUERY_KEYS = new Set(Object.keys(ListQuerySchema.shape));

/**
 * This route's fast lane (src/http/fast-lane.ts): the same page, for a plain query and a token of
 * the route's role, without the framework. Dashboards poll this list; tested against the route.
 */
export const v1VmsListFast: FastRoute = {
  path: route.path,
  async answer(request, services) {
    const header = request.header('authorization');
    const token = header === undefined ? undefined : bearerToken(header);
    const query = plainQuery(request.query, QUERY_KEYS);
    if (token === undefined || query === undefined) return undefined;
    const principal = await services.auth.authenticate(token);
    const parsed = ListQuerySchema.safeParse(query);
    if (!roleAtLeast(principal.role, ROLE) || !parsed.success) return undefined;
    const text = await listPage(services, parsed.data);
    return {
      status: 200,
      user: principal.username,
      ...jsonTextEncoded(text, 'GET', request.header('accept-encoding')),
    };
  },
};

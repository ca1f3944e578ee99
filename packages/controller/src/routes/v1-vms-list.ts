import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { authedRoute, jsonTextResponse } from '../http/define-route.ts';
import { type JsonText, jsonText, sendJsonText } from '../http/json-text.ts';
import type { VmPosition } from '../vms/vm-queries.ts';
import { VM_STATES, VmSchema } from '../vms/vm-schema.ts';
import type { VmPage } from '../vms/vm-service.ts';
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
      typeof value[1] === 'string' &&
      z.uuid().safeParse(value[1]).success
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

const route = authedRoute('viewer', {
  method: 'get',
  path: '/api/v1/vms',
  operationId: 'listVms',
  tags: ['vms'],
  summary: 'List the virtual machines of the cluster',
  description:
    'By name (then id), a page at a time: pass `next_cursor` as `cursor` for the next page. A VM whose ' +
    "host's agent is not connected keeps its last reported state and is marked `stale`.",
  request: {
    query: z.object({
      host_id: uuidQuery('host').openapi({ description: 'Only the VMs on this host' }),
      state: z.enum(VM_STATES).optional().openapi({ description: 'Only the VMs in this state' }),
      name: z.string().min(1).max(255).optional().openapi({ description: 'Only the VMs with this name' }),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(100)
        .openapi({ description: 'Page size (1 to 1000)' }),
      cursor: CursorSchema.optional().openapi({
        type: 'string',
        description: 'The previous page’s next_cursor',
      }),
    }),
  },
  responses: {
    200: jsonTextResponse('A page of VMs, by name', PageSchema),
  },
});

/** The response body of a page: serialised once per page while the VMs don't change (VmCache). */
const renderPage = (page: VmPage): JsonText<z.infer<typeof PageSchema>> =>
  jsonText({ vms: page.vms, next_cursor: page.next === null ? null : encodeCursor(page.next) });

export function registerV1VmsList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { host_id, state, name, limit, cursor } = c.req.valid('query');
    const body = await c.var.services.vms.listRendered(
      { hostId: host_id, state, name },
      { limit, after: cursor },
      renderPage,
    );
    return sendJsonText(c, body, 200);
  });
}

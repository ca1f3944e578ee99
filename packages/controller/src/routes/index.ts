import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { registerHealth } from './health.ts';
import { registerAuthRoutes } from './register-auth-routes.ts';
import { registerV1HostsList } from './v1-hosts-list.ts';
import { registerV1VmsList } from './v1-vms-list.ts';

/** Every route of the API, one file each; each file exports `registerXxx(app)`. */
export function registerRoutes(app: OpenAPIHono<AppEnv>): void {
  // First: it mounts the audit middleware, which must precede every route it records.
  registerAuthRoutes(app);
  registerHealth(app);
  registerV1HostsList(app);
  registerV1VmsList(app);
}

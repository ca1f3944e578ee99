import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';

/** Every route of the API, one file each; each file exports `registerXxx(app)`. */
export function registerRoutes(app: OpenAPIHono<AppEnv>): void {
  void app;
}

import { OpenAPIHono } from '@hono/zod-openapi';
import type { Services } from '../create-services.ts';
import { createMetricsApp } from '../prometheus/metrics-endpoint.ts';
import { registerRoutes } from '../routes/index.ts';
import type { AppEnv } from './app-env.ts';
import { auditMutations } from './audit-middleware.ts';
import { limitBodies } from './body-limit.ts';
import { registerDocsPage } from './docs-page.ts';
import { literalPathsFirst, notFound, onError } from './error-handling.ts';
import { measureDurations } from './measure-durations.ts';
import { requestContext } from './request-context.ts';
import { BEARER_SCHEME, BEARER_SCHEME_NAME } from './require-role.ts';
import { validationHook } from './validation.ts';

export const OPENAPI_PATH = '/api/v1/openapi.json';
export { DOCS_PATH } from './docs-page.ts';

/**
 * The whole HTTP API, in the order a request meets it: request id, logs and caller; the body limit;
 * the audit log of mutating /api/v1 calls; the routes (each validating its request, authenticating
 * through `authedRoute`, then calling one service method); the error envelope for every failure; and
 * the OpenAPI document generated from the routes' schemas.
 */
export function createApp(services: Services): OpenAPIHono<AppEnv> {
  // Every request part of every route passes the one validation hook: 400 naming each failing field.
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use('*', measureDurations(services.requestDurations));
  app.use('*', requestContext(services));
  app.use('*', limitBodies(services.config.http.bodyLimitBytes));
  // Before the routes: Hono runs middleware in registration order.
  app.use('/api/v1/*', auditMutations());
  app.use('/api/v1/*', literalPathsFirst(app));

  app.openAPIRegistry.registerComponent('securitySchemes', BEARER_SCHEME_NAME, BEARER_SCHEME);
  registerRoutes(app);

  app.doc31(OPENAPI_PATH, {
    openapi: '3.1.0',
    info: {
      title: 'Cockpit API',
      version: '1',
      description: 'Control virtual machines and the hypervisor hosts that run them.',
      // `identifier` (an SPDX expression) is OpenAPI 3.1's; the library's type knows only 3.0's fields.
      license: { name: 'Proprietary: no license is granted yet', identifier: 'LicenseRef-Proprietary' } as {
        name: string;
      },
    },
    // Relative: the document describes the controller that serves it, under whatever name it is reached.
    servers: [{ url: '/', description: 'This controller' }],
  });
  registerDocsPage(app, OPENAPI_PATH);
  // Prometheus' /metrics, beside the API unless COCKPIT_METRICS_LISTEN gives it its own address.
  if (services.config.metrics.listen === 'api') app.route('/', createMetricsApp(services));

  app.notFound(notFound(app));
  app.onError(onError);
  return app;
}

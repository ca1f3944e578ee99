import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { ApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

export const DOCS_PATH = '/docs';
const ASSETS = `${DOCS_PATH}/assets`;

/**
 * The API reference at /docs: Swagger UI from the pinned `swagger-ui-dist` package, served by the
 * controller itself, so the page works on a machine without internet and no request leaves it (no
 * CDN, no web fonts, no validator badge, no vendor links; its Content-Security-Policy lets the
 * browser talk to this origin only). "Try it out" calls this controller with the bearer token given
 * under "Authorize". `GET /` leads here.
 */
export function registerDocsPage(app: OpenAPIHono<AppEnv>, openApiPath: string): void {
  const assets = loadAssets(openApiPath);
  app.get('/', (c) => c.redirect(DOCS_PATH, 302));
  app.get(DOCS_PATH, (c) => {
    c.header('Content-Security-Policy', CSP);
    return c.html(PAGE);
  });
  app.get(`${ASSETS}/:file`, (c) => {
    const asset = assets.get(c.req.param('file'));
    if (asset === undefined) throw new ApiError('not_found', `no such file under ${ASSETS}`);
    c.header('Content-Type', asset.type);
    // The files change only with the package version: a day in caches is safe.
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(asset.body);
  });
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Swagger UI sets element styles from script.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cockpit API</title>
  <link rel="icon" type="image/png" href="${ASSETS}/favicon-32x32.png">
  <link rel="stylesheet" href="${ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="${ASSETS}/swagger-ui-bundle.js"></script>
  <script src="${ASSETS}/docs.js"></script>
</body>
</html>
`;

interface Asset {
  type: string;
  body: ArrayBuffer;
}

function loadAssets(openApiPath: string): Map<string, Asset> {
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const file = (name: string, type: string): [string, Asset] => [
    name,
    { type, body: arrayBufferOf(readFileSync(join(dist, name))) },
  ];
  // Swagger UI's own start-up, as a file (the CSP allows no inline script).
  const init = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(openApiPath)},
  dom_id: '#docs',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
  deepLinking: true,
  displayRequestDuration: true,
  persistAuthorization: false,
});
`;
  return new Map([
    file('swagger-ui.css', 'text/css; charset=utf-8'),
    file('swagger-ui-bundle.js', 'text/javascript; charset=utf-8'),
    file('favicon-32x32.png', 'image/png'),
    file('favicon-16x16.png', 'image/png'),
    ['docs.js', { type: 'text/javascript; charset=utf-8', body: arrayBufferOf(Buffer.from(init)) }],
  ]);
}

const arrayBufferOf = (bytes: Buffer): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

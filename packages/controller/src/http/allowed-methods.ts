import type { RouterRoute } from 'hono/types';

// Hono answers "no handler" the same way for an unknown path and for a known path asked with the
// wrong method; telling them apart (404 vs 405 + Allow) needs the route table.

const cache = new WeakMap<
  RouterRoute[],
  { size: number; routes: Array<{ pattern: RegExp; method: string }> }
>();

function compile(routes: RouterRoute[]) {
  const cached = cache.get(routes);
  if (cached && cached.size === routes.length) return cached.routes;
  const compiled = routes
    .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
    .map((r) => ({
      method: r.method,
      pattern: new RegExp(
        `^${r.path
          .split('/')
          .map((segment) =>
            segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('/')}$`,
      ),
    }));
  cache.set(routes, { size: routes.length, routes: compiled });
  return compiled;
}

/** The methods the app has handlers for at `path`; empty when the path is unknown. */
export function allowedMethods(routes: RouterRoute[], path: string): string[] {
  const methods = new Set<string>();
  for (const r of compile(routes)) if (r.pattern.test(path)) methods.add(r.method);
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

import type { RouterRoute } from 'hono/types';

// Hono answers "no handler" the same way for an unknown path and for a known path asked with the
// wrong method; telling them apart (404 vs 405 + Allow) needs the route table.

const cache = new WeakMap<
  RouterRoute[],
  { size: number; routes: Array<{ pattern: RegExp; method: string }> }
>();
const literalCache = new WeakMap<RouterRoute[], { size: number; methods: Map<string, string[]> }>();

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

/**
 * The methods of the routes whose path is `path` word for word, without a parameter; empty when none.
 * A literal segment names its own resource and wins over a parameter beside it: `GET
 * /api/v1/hosts/join-tokens` is a 405 naming POST, not `GET /api/v1/hosts/{id}` refusing `join-tokens`
 * as a host id.
 */
export function literalPathMethods(routes: RouterRoute[], path: string): string[] {
  let cached = literalCache.get(routes);
  if (cached === undefined || cached.size !== routes.length) {
    const byPath = new Map<string, Set<string>>();
    for (const r of routes) {
      if (r.method === 'ALL' || r.path.includes(':') || r.path.includes('*')) continue;
      const methods = byPath.get(r.path) ?? new Set<string>();
      methods.add(r.method);
      if (r.method === 'GET') methods.add('HEAD');
      byPath.set(r.path, methods);
    }
    const methods = new Map([...byPath].map(([p, set]) => [p, [...set].sort()]));
    cached = { size: routes.length, methods };
    literalCache.set(routes, cached);
  }
  return cached.methods.get(path) ?? [];
}

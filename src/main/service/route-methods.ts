/**
 * Which methods each route path answers, so that a known path asked with another method gets
 * `405 ERR_METHOD_NOT_ALLOWED` and an `Allow` header instead of a 404 that suggests the path is wrong.
 */
import type { FastifyInstance } from 'fastify';

export class RouteMethods {
  /** Route pattern (`/v1/threads/:threadId`) → its matcher and methods, filled by Fastify's onRoute. */
  readonly #routes = new Map<string, { matcher: RegExp; methods: Set<string> }>();

  /** Must be called before any route is added: onRoute sees only the routes added after it. */
  constructor(app: FastifyInstance) {
    app.addHook('onRoute', ({ url, method }) => {
      let route = this.#routes.get(url);
      if (route === undefined) this.#routes.set(url, (route = { matcher: matcherOf(url), methods: new Set() }));
      for (const one of [method].flat()) route.methods.add(one);
    });
  }

  /** The methods `path` (no query) answers, sorted; empty when no route matches it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { matcher, methods: some } of this.#routes.values()) {
      if (matcher.test(path)) for (const method of some) methods.add(method);
    }
    return [...methods].sort();
  }
}

/** `/v1/threads/:threadId/events` → `^/v1/threads/[^/]+/events$` (our routes have only plain params). */
function matcherOf(url: string): RegExp {
  const source = url.split('/').map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  return new RegExp(`^${source}$`);
}

import type { RouteEnv } from '../app.js'
import type { Route } from '../router.js'

export function opsRoutes({ deps, metrics, openapi }: RouteEnv): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness: the process is up.',
      tag: 'operations',
      handler: () => ({ body: { ok: true } }),
    },
    {
      method: 'GET',
      path: '/readyz',
      summary: 'Readiness: the database is reachable and migrated, and change notifications are flowing.',
      tag: 'operations',
      async handler() {
        const r = await deps.ready().catch(() => ({ ok: false, checks: { database: 'unreachable' } }))
        return { status: r.ok ? 200 : 503, body: r }
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics: verifications by result, rotations by outcome, key age, old-version use after grace.',
      tag: 'operations',
      async handler() {
        return { raw: { contentType: metrics.registry.contentType, text: await metrics.registry.metrics() } }
      },
    },
    {
      method: 'GET',
      path: '/openapi.json',
      summary: 'This API, as OpenAPI 3.1 generated from the route schemas.',
      tag: 'operations',
      handler: () => ({ body: openapi() }),
    },
  ]
}

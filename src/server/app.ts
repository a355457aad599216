import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { z } from 'zod'
import { AppError } from '../core/errors.js'
import { constantTimeEqual } from '../core/crypto/compare.js'
import type { ApiToken } from '../adapters/postgres/token-store.js'
import { hasScope } from '../adapters/postgres/token-store.js'
import { FailureLimiter } from './auth.js'
import { DEFAULT_LIMITS, type Limits, type ServerDeps } from './deps.js'
import { errorResponse, HttpError } from './http-errors.js'
import { createMetrics, type Metrics } from './metrics.js'
import { buildOpenApi } from './openapi.js'
import { Router, type Reply, type RequestContext, type Route } from './router.js'
import { keyRoutes } from './routes/keys.js'
import { secretRoutes } from './routes/secrets.js'
import { rotationRoutes } from './routes/rotations.js'
import { auditRoutes } from './routes/audit.js'
import { opsRoutes } from './routes/ops.js'
import { legacyRoutes } from './routes/legacy.js'

export interface App {
  /** The node:http request listener. The app never listens itself (main.ts does). */
  handle(req: IncomingMessage, res: ServerResponse): void
  routes: Route[]
  metrics: Metrics
  openapi(): unknown
  /** Requests being handled now (graceful shutdown waits for 0). */
  inFlight(): number
}

export interface RouteEnv {
  deps: ServerDeps
  metrics: Metrics
  openapi: () => unknown
}

/**
 * Builds the HTTP application over its dependencies. Every request goes through one pipeline:
 * size limits, routing, token auth (401/403/429), body parsing and schema validation, the
 * handler, and one error mapping that never shows a stack, path or value.
 */
export function createApp(deps: ServerDeps): App {
  const limits: Limits = { ...DEFAULT_LIMITS, ...deps.limits }
  const keyStats = deps.keyStats ? () => deps.keyStats!() : undefined
  const metrics = createMetrics(keyStats ? { keyStats } : {})
  let openapiDoc: unknown
  const env: RouteEnv = { deps, metrics, openapi: () => (openapiDoc ??= buildOpenApi(routes)) }
  const routes: Route[] = [...keyRoutes(env), ...secretRoutes(env), ...rotationRoutes(env), ...auditRoutes(env), ...opsRoutes(env), ...legacyRoutes(env)]
  const router = new Router(routes)
  const limiter = new FailureLimiter(limits.authFailures, limits.authWindowMs, () => deps.clock.now().getTime())
  const idPrefix = randomBytes(3).toString('hex')
  let counter = 0
  let inFlight = 0

  const send = (res: ServerResponse, requestId: string, r: Reply, head: boolean) => {
    const status = r.status ?? 200
    const headers: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...r.headers }
    let payload: string | undefined
    if (r.raw) {
      headers['content-type'] = r.raw.contentType
      payload = r.raw.text
    } else if (r.body !== undefined && status !== 204) {
      headers['content-type'] = 'application/json; charset=utf-8'
      payload = JSON.stringify(r.body)
    }
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload))
    res.writeHead(status, headers)
    res.end(head ? undefined : payload)
  }

  const fail = (res: ServerResponse, requestId: string, e: unknown, head: boolean, routeName: string) => {
    const r = errorResponse(e, requestId)
    const status = e instanceof HttpError ? e.status : r.status
    if (r.internal || status >= 500) {
      const err = e as { code?: unknown; message?: unknown; name?: unknown }
      deps.log?.error({ requestId, route: routeName, code: typeof err.code === 'string' ? err.code : undefined, err: typeof err.message === 'string' ? err.message.slice(0, 300) : String(err.name) }, 'request failed')
    }
    const headers: Record<string, string> = {}
    if (e instanceof AppError && e.code === 'RATE_LIMITED' && e.hint) headers['retry-after'] = e.hint
    if (e instanceof AppError && e.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer'
    if (e instanceof HttpError && e.status === 405 && e.hint) headers.allow = e.hint
    send(res, requestId, { status, body: r.body, headers }, head)
  }

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > limits.bodyBytes) return reject(new HttpError(413, 'USAGE', `request body larger than ${limits.bodyBytes} bytes`))
      const chunks: Buffer[] = []
      let size = 0
      req.on('data', (c: Buffer) => {
        size += c.length
        if (size > limits.bodyBytes) {
          reject(new HttpError(413, 'USAGE', `request body larger than ${limits.bodyBytes} bytes`))
          req.removeAllListeners('data')
          req.resume()
          return
        }
        chunks.push(c)
      })
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      req.on('error', reject)
    })

  const validate = <T>(schema: z.ZodType<T>, v: unknown, what: string): T => {
    const r = schema.safeParse(v)
    if (r.success) return r.data
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`)
    throw new AppError('USAGE', `invalid ${what}: ${problems.join('; ')}`)
  }

  const authenticate = async (req: IncomingMessage, route: Route, params: Record<string, string>, ip: string): Promise<ApiToken | undefined> => {
    if (!route.scope) return undefined
    const wait = limiter.blocked(ip)
    if (wait > 0) {
      metrics.authFailures.inc({ reason: 'rate_limited' })
      throw new AppError('RATE_LIMITED', 'too many failed authentication attempts from this address; retry later', { hint: String(wait) })
    }
    const h = req.headers.authorization
    const m = typeof h === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(h) : null
    const presented = m?.[1]
    let token: ApiToken | undefined
    if (presented) {
      token = await deps.auth.authenticate(presented)
      if (!token && route.legacyAuth && deps.legacy?.apiKey && constantTimeEqual(presented, deps.legacy.apiKey)) {
        token = { id: 'envault-api-key', name: 'ENVAULT_API_KEY', scopes: [`env:${deps.legacy.env}:read`], created_at: '', created_by: '', last_used_at: null, revoked_at: null }
      }
    }
    if (!token) {
      limiter.fail(ip)
      metrics.authFailures.inc({ reason: presented ? 'invalid' : 'missing' })
      throw new AppError('UNAUTHORIZED', presented ? 'invalid API token' : 'missing bearer token')
    }
    const needed = route.scope(params)
    if (!hasScope(token.scopes, needed)) {
      metrics.authFailures.inc({ reason: 'scope' })
      throw new AppError('FORBIDDEN', `this token lacks the scope ${needed}`)
    }
    return token
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = `req_${idPrefix}${(counter++).toString(36)}`
    const started = performance.now()
    const head = req.method === 'HEAD'
    let routeName = 'unmatched'
    inFlight++
    try {
      const url = req.url ?? '/'
      if (url.length > limits.urlBytes) throw new HttpError(414, 'USAGE', `URL longer than ${limits.urlBytes} bytes`)
      const q = url.indexOf('?')
      const path = q < 0 ? url : url.slice(0, q)
      const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
      const m = router.match(req.method ?? 'GET', path)
      if (!m) throw new HttpError(404, 'NOT_FOUND', 'no such route')
      if ('allowed' in m) {
        const e = new HttpError(405, 'USAGE', `method ${String(req.method).slice(0, 10)} not allowed here`)
        Object.defineProperty(e, 'hint', { value: m.allowed.join(', ') })
        throw e
      }
      const { route, params } = m
      routeName = `${route.method} ${route.path}`
      const ip = req.socket.remoteAddress ?? 'unknown'
      const token = await authenticate(req, route, params, ip)
      let body: unknown
      if (route.body) {
        const text = await readBody(req)
        let parsed: unknown
        try {
          parsed = text === '' ? {} : JSON.parse(text)
        } catch {
          throw new AppError('PARSE_ERROR', 'request body is not valid JSON')
        }
        body = validate(route.body, parsed, 'request body')
      } else if (req.method === 'POST' || req.method === 'PUT') {
        req.resume()
      }
      const rawQuery = Object.fromEntries(query)
      const parsedQuery = route.query ? (validate(route.query, rawQuery, 'query') as Record<string, unknown>) : rawQuery
      const ctx: RequestContext = { requestId, params, query: parsedQuery, body, token, ip, headers: req.headers }
      const reply = await route.handler(ctx)
      send(res, requestId, reply, head)
      metrics.requests.inc({ route: routeName, status: `${String(reply.status ?? 200)[0]}xx` })
    } catch (e) {
      const status = e instanceof HttpError ? e.status : errorResponse(e, requestId).status
      metrics.requests.inc({ route: routeName, status: `${String(status)[0]}xx` })
      if (!res.headersSent) fail(res, requestId, e, head, routeName)
      else res.destroy()
    } finally {
      inFlight--
      deps.log?.info({ requestId, method: req.method, route: routeName, status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request')
    }
  }

  return {
    handle: (req, res) => void handle(req, res),
    routes,
    metrics,
    openapi: env.openapi,
    inFlight: () => inFlight,
  }
}

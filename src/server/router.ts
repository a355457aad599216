import type { z } from 'zod'
import type { ApiToken } from '../adapters/postgres/token-store.js'

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface RequestContext {
  requestId: string
  params: Record<string, string>
  /** The query string, validated by the route's schema when it has one. */
  query: Record<string, unknown>
  body: unknown
  token: ApiToken | undefined
  ip: string
  headers: Record<string, string | string[] | undefined>
}

export interface Reply {
  status?: number
  body?: unknown
  /** A non-JSON body (CSV export). */
  raw?: { contentType: string; text: string }
  headers?: Record<string, string>
}

/**
 * One route: its method and path template, the scope it needs (a function of the path
 * parameters), and its schemas. The same schemas validate requests and generate /openapi.json.
 */
export interface Route {
  method: Method
  path: string // "/v1/envs/{env}/secrets/{name}"
  summary: string
  tag: string
  /** The token scope required; undefined for public routes (health, metrics when open). */
  scope?: (params: Record<string, string>) => string
  /** Accepts the legacy envault bearer token (ENVAULT_API_KEY) too. */
  legacyAuth?: boolean
  body?: z.ZodType
  query?: z.ZodType
  response?: z.ZodType
  /** Extra documented statuses besides the shared error ones. */
  statuses?: number[]
  handler(ctx: RequestContext): Promise<Reply> | Reply
}

interface Compiled {
  route: Route
  parts: string[]
}

/** A small exact-segment router: literal segments beat parameters, so /v1/keys/verify wins over /v1/keys/{id}. */
export class Router {
  private readonly compiled: Compiled[] = []
  constructor(readonly routes: Route[]) {
    for (const r of routes) this.compiled.push({ route: r, parts: r.path.split('/').filter(Boolean) })
    // Literal segments first.
    this.compiled.sort((a, b) => score(b.parts) - score(a.parts))
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: Method[] } | undefined {
    const segs = path.split('/').filter(Boolean)
    const allowed: Method[] = []
    for (const c of this.compiled) {
      if (c.parts.length !== segs.length) continue
      const params: Record<string, string> = {}
      let ok = true
      for (let i = 0; i < segs.length; i++) {
        const p = c.parts[i]!
        const s = segs[i]!
        if (p.startsWith('{')) {
          let v: string
          try {
            v = decodeURIComponent(s)
          } catch {
            ok = false
            break
          }
          params[p.slice(1, -1)] = v
        } else if (p !== s) {
          ok = false
          break
        }
      }
      if (!ok) continue
      if (c.route.method === method || (method === 'HEAD' && c.route.method === 'GET')) return { route: c.route, params }
      allowed.push(c.route.method)
    }
    return allowed.length ? { allowed } : undefined
  }
}

function score(parts: string[]): number {
  return parts.reduce((s, p, i) => s + (p.startsWith('{') ? 0 : 2 ** (10 - Math.min(i, 10))), 0)
}

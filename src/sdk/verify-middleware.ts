import type { IncomingMessage, ServerResponse } from 'node:http'
import { createVerifyCache } from './verify-cache.js'

/** The outcome of verifying an API key, as `POST /v1/keys/verify` returns it. */
export interface VerifyOutcome {
  valid: boolean
  status: 'VALID' | 'REVOKED' | 'EXPIRED' | 'INVALID'
  id?: string
  version?: number
  /** A previous version accepted inside its grace window: the caller should switch to the new key. */
  deprecated: boolean
  grace_until?: string
  reason?: string
  name?: string
  service?: string
}

export interface KeyVerifierOptions {
  /** Base URL of `rekey serve`. */
  url: string
  /** A token with the `keys:verify` scope. */
  token: string
  /** How long a verification is trusted locally, in ms (default 1000: a revoked key is refused within a second). */
  cacheTtl?: number
  /** How often local uses are reported to the server (default 5000 ms). */
  reportEveryMs?: number
  /** Local cache size (default 100 000 keys). */
  maxEntries?: number
  timeoutMs?: number
  now?: () => number
  fetch?: typeof fetch
}

export interface KeyVerifier {
  verify(key: string): Promise<VerifyOutcome>
  /** Sends the uses served from the local cache (they feed the server's idle-gated revocation). */
  flush(): Promise<void>
  close(): Promise<void>
  stats(): { hits: number; misses: number; size: number }
}

/** Raised when the server cannot be asked and nothing is cached: the middleware answers 503. */
export class VerifierUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'VerifierUnavailableError'
  }
}

/**
 * Verifies API keys against `rekey serve`, with a small local cache keyed by the key's SHA-256
 * (the key itself is never kept). A previous version inside its grace window is accepted (and
 * flagged `deprecated`) until its `grace_until`, never longer. Uses answered from the cache are
 * counted and reported back to the server, so the rotation engine knows when an old version has
 * gone idle and can be revoked.
 *
 * @example
 * const verifier = createKeyVerifier({ url: 'http://127.0.0.1:8080', token: process.env.REKEY_VERIFY_TOKEN! })
 * const r = await verifier.verify(req.headers['x-api-key'])
 * if (!r.valid) return res.writeHead(401).end()
 */
export function createKeyVerifier(o: KeyVerifierOptions): KeyVerifier {
  const ttl = o.cacheTtl ?? 1000
  const now = o.now ?? Date.now
  const doFetch = o.fetch ?? fetch
  const base = o.url.replace(/\/+$/, '')
  const max = o.maxEntries ?? 100_000
  const cache = createVerifyCache(max)
  /** Uses whose report failed, kept for the next attempt. */
  let unsent: { id: string; version: number; count: number; last: number }[] = []
  let hits = 0
  let misses = 0

  const post = async (path: string, body: unknown): Promise<Response> => {
    const ctl = new AbortController()
    const t = setTimeout(() => ctl.abort(), o.timeoutMs ?? 5000)
    try {
      return await doFetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: ctl.signal,
      })
    } catch {
      throw new VerifierUnavailableError(`cannot reach ${base}`)
    } finally {
      clearTimeout(t)
    }
  }

  const flush = async () => {
    const byKey = new Map<string, { id: string; version: number; count: number; last: number }>()
    for (const u of [...unsent, ...cache.takeUses()]) {
      const k = `${u.id}:${u.version}`
      const cur = byKey.get(k)
      if (cur) {
        cur.count += u.count
        cur.last = Math.max(cur.last, u.last)
      } else byKey.set(k, { ...u })
    }
    unsent = []
    if (byKey.size === 0) return
    const batch = [...byKey.values()]
    const res = await post('/v1/keys/usage', { uses: batch.map((u) => ({ id: u.id, version: u.version, count: u.count, last_used_at: new Date(u.last).toISOString() })) }).catch(() => undefined)
    // Keep the counts for the next attempt.
    if (!res?.ok) unsent = batch
  }
  const timer = setInterval(() => void flush(), o.reportEveryMs ?? 5000)
  timer.unref()

  return {
    async verify(key) {
      if (typeof key !== 'string' || key.length === 0 || key.length > 8192) return { valid: false, status: 'INVALID', deprecated: false }
      const h = cache.digest(key)
      const t = now()
      const c = cache.get(h, t)
      if (c) {
        hits++
        cache.use(h, t)
        return c
      }
      misses++
      const res = await post('/v1/keys/verify', { key })
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } }
        throw new VerifierUnavailableError(`verification failed: ${body.error?.message ?? `HTTP ${res.status}`}`)
      }
      const r = (await res.json()) as VerifyOutcome
      let until = t + ttl
      if (r.deprecated && r.grace_until) until = Math.min(until, Date.parse(r.grace_until))
      cache.set(h, r, until)
      // The server already counted this use (it verified the key).
      return r
    },
    flush,
    async close() {
      clearInterval(timer)
      await flush()
    },
    stats: () => ({ hits, misses, size: cache.size }),
  }
}

/** Where the key is read from: `x-api-key`, else `Authorization: Bearer <key>`. */
export function keyFromHeaders(get: (name: string) => string | string[] | undefined | null): string | undefined {
  const x = get('x-api-key')
  if (typeof x === 'string' && x !== '') return x
  const a = get('authorization')
  const m = typeof a === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(a) : null
  return m?.[1]
}

export interface VerifyMiddlewareOptions extends KeyVerifierOptions {
  /** Reuse a verifier (one per process is enough). */
  verifier?: KeyVerifier
}

const denyBody = (r: VerifyOutcome | undefined) =>
  JSON.stringify({ error: { code: r ? `KEY_${r.status}` : 'KEY_MISSING', message: r ? (r.status === 'INVALID' ? 'invalid API key' : `API key ${r.status.toLowerCase()}`) : 'missing API key' } })

type NodeNext = (err?: unknown) => void
type NodeReq = IncomingMessage & { apiKey?: VerifyOutcome }

async function decide(v: KeyVerifier, key: string | undefined): Promise<{ status: number; r?: VerifyOutcome }> {
  if (!key) return { status: 401 }
  try {
    const r = await v.verify(key)
    return { status: r.valid ? 200 : 401, r }
  } catch {
    return { status: 503 }
  }
}

function sendNode(res: ServerResponse, status: number, r: VerifyOutcome | undefined) {
  const body = status === 503 ? JSON.stringify({ error: { code: 'VERIFIER_UNAVAILABLE', message: 'cannot verify API keys right now' } }) : denyBody(r)
  res.writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'ApiKey' } : {}) })
  res.end(body)
}

/**
 * API key middleware for node:http, Connect and Express: `(req, res, next)`. A valid key sets
 * `req.apiKey` and calls `next()`; a deprecated (previous, in-grace) one also sets the
 * `Deprecation: true` response header. Otherwise it answers 401 (503 if the server can't be
 * asked).
 *
 * @example
 * // Express
 * app.use(verifyApiKey({ url: 'http://127.0.0.1:8080', token: process.env.REKEY_VERIFY_TOKEN! }))
 * // node:http
 * const guard = verifyApiKey({ url, token })
 * http.createServer((req, res) => guard(req, res, () => res.end('hello')))
 */
export function verifyApiKey(o: VerifyMiddlewareOptions): ((req: NodeReq, res: ServerResponse, next: NodeNext) => void) & { verifier: KeyVerifier } {
  const v = o.verifier ?? createKeyVerifier(o)
  const mw = (req: NodeReq, res: ServerResponse, next: NodeNext) => {
    void decide(v, keyFromHeaders((n) => req.headers[n])).then(({ status, r }) => {
      if (status !== 200) return sendNode(res, status, r)
      req.apiKey = r
      if (r?.deprecated) res.setHeader('deprecation', 'true')
      next()
    }, next)
  }
  return Object.assign(mw, { verifier: v })
}

/** The parts of a Fastify request/reply the hook uses (no dependency on fastify). */
export interface FastifyLikeRequest {
  headers: Record<string, string | string[] | undefined>
  apiKey?: VerifyOutcome
}
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply
  header(name: string, value: string): FastifyLikeReply
  send(body: unknown): unknown
}

/**
 * The same check as a Fastify `preHandler` hook.
 *
 * @example
 * fastify.addHook('preHandler', verifyApiKeyFastify({ url, token }))
 */
export function verifyApiKeyFastify(o: VerifyMiddlewareOptions): ((req: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown>) & { verifier: KeyVerifier } {
  const v = o.verifier ?? createKeyVerifier(o)
  const hook = async (req: FastifyLikeRequest, reply: FastifyLikeReply) => {
    const { status, r } = await decide(v, keyFromHeaders((n) => req.headers[n]))
    if (status !== 200) return reply.code(status).header('content-type', 'application/json').send(status === 503 ? JSON.stringify({ error: { code: 'VERIFIER_UNAVAILABLE', message: 'cannot verify API keys right now' } }) : denyBody(r))
    req.apiKey = r
    if (r?.deprecated) reply.header('deprecation', 'true')
    return undefined
  }
  return Object.assign(hook, { verifier: v })
}

/** The parts of a Hono context the middleware uses (no dependency on hono). */
export interface HonoLikeContext {
  req: { header(name: string): string | undefined }
  set(key: 'apiKey', value: VerifyOutcome): void
  header(name: string, value: string): void
  body(data: string, status: number, headers?: Record<string, string>): Response
}

/**
 * The same check as Hono middleware; the outcome is `c.get('apiKey')`.
 *
 * @example
 * app.use('/api/*', verifyApiKeyHono({ url, token }))
 */
export function verifyApiKeyHono(o: VerifyMiddlewareOptions): ((c: HonoLikeContext, next: () => Promise<void>) => Promise<Response | undefined>) & { verifier: KeyVerifier } {
  const v = o.verifier ?? createKeyVerifier(o)
  const mw = async (c: HonoLikeContext, next: () => Promise<void>) => {
    const { status, r } = await decide(v, keyFromHeaders((n) => c.req.header(n)))
    if (status !== 200) {
      return c.body(status === 503 ? JSON.stringify({ error: { code: 'VERIFIER_UNAVAILABLE', message: 'cannot verify API keys right now' } }) : denyBody(r), status, { 'content-type': 'application/json' })
    }
    c.set('apiKey', r!)
    if (r?.deprecated) c.header('deprecation', 'true')
    await next()
    return undefined
  }
  return Object.assign(mw, { verifier: v })
}

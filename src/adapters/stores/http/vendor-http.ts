import { Agent, request, errors as undiciErrors } from 'undici'
import { AppError, AdapterError } from '../../../core/errors.js'

/**
 * The HTTP client every vendor store (Vault, Doppler, 1Password Connect, GitHub, Vercel, Render)
 * talks through, so retries, timeouts and error hygiene are written once:
 * - retries with full-jitter exponential backoff on 429, 5xx and dropped connections, honouring
 *   `Retry-After` (seconds or an HTTP date) and `x-ratelimit-reset`, bounded in count and in
 *   total time;
 * - a timeout per attempt;
 * - 401/403 become one STORE_AUTH_FAILED line naming the store, never the token;
 * - a vendor's error text is shortened and scrubbed of every value sent in the request, so a
 *   vendor that echoes input cannot leak a secret into our errors or logs.
 * undici's `request` is used directly (not fetch) for its lower overhead and its keep-alive pool.
 */
export interface VendorHttpOptions {
  /** The store's name under `stores:` (named in every error). */
  store: string
  /** The vendor, for messages ("vault", "github"). */
  vendor: string
  baseUrl: string
  /** Headers sent on every request (auth included; never logged). */
  headers: Record<string, string>
  /** Per attempt (default 15 s). */
  timeoutMs?: number
  /** Attempts in all, the first included (default 5). */
  maxAttempts?: number
  /** Total time budget across attempts and waits (default 60 s). */
  maxElapsedMs?: number
  /** First backoff step (default 250 ms); doubles each attempt, capped at 8 s, full jitter. */
  baseDelayMs?: number
  /** Reads the vendor's error body into one line ({"errors":[…]}, {"message"}, …). */
  errorText?: (body: unknown, status: number) => string | undefined
  /** Whether a response is retryable beyond 429/5xx (GitHub's 403 secondary rate limit). */
  retryable?: (status: number, headers: Record<string, string | string[] | undefined>, body: unknown) => boolean
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>
  now?: () => number
  random?: () => number
  /** Concurrent connections to the vendor (default 8). */
  connections?: number
}

export interface VendorRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'LIST'
  path: string
  query?: Record<string, string | number | boolean | undefined>
  body?: unknown
  /** Content-Type of `body` (default application/json). */
  contentType?: string
  headers?: Record<string, string>
  /** Statuses returned to the caller instead of thrown (404 for "missing", 409 for a conflict…). */
  expect?: number[]
  /** What is being done, for messages ("read prod", "write DB_PASSWORD"). */
  what: string
}

export interface VendorResponse<T = unknown> {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: T
}

export interface VendorHttp {
  send<T = unknown>(r: VendorRequest): Promise<VendorResponse<T>>
  /** Requests sent, retries included (benchmarks compare it with the vendor's minimum). */
  readonly requests: number
  close(): Promise<void>
}

const RETRY_STATUS = new Set([408, 425, 429, 500, 502, 503, 504])
const DROPPED = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** The wait a vendor asked for, in ms (Retry-After seconds or date; GitHub's x-ratelimit-reset epoch seconds). */
export function requestedWaitMs(h: Record<string, string | string[] | undefined>, now: number): number | undefined {
  const ra = header(h, 'retry-after')
  if (ra !== undefined) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.ceil(Number(ra) * 1000)
    const at = Date.parse(ra)
    if (!Number.isNaN(at)) return Math.max(0, at - now)
  }
  if (header(h, 'x-ratelimit-remaining') === '0') {
    const reset = Number(header(h, 'x-ratelimit-reset'))
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now)
  }
  return undefined
}

/** Every string value inside a request body, for scrubbing error text. */
function sentStrings(body: unknown, out: string[] = []): string[] {
  if (typeof body === 'string') {
    if (body.length >= 4) out.push(body)
  } else if (Array.isArray(body)) for (const v of body) sentStrings(v, out)
  else if (body && typeof body === 'object') for (const v of Object.values(body as Record<string, unknown>)) sentStrings(v, out)
  return out
}

/** Shortens vendor text to one line and removes anything we sent (values) from it. */
export function scrub(text: string, sent: string[]): string {
  let t = text.replace(/[\r\n\t]+/g, ' ').trim()
  for (const s of sent.sort((a, b) => b.length - a.length)) if (t.includes(s)) t = t.split(s).join('[redacted]')
  return t.length > 200 ? `${t.slice(0, 200)}…` : t
}

export function createVendorHttp(o: VendorHttpOptions): VendorHttp {
  const base = o.baseUrl.replace(/\/+$/, '')
  let origin: string
  let prefix: string
  try {
    const u = new URL(base)
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('protocol')
    origin = u.origin
    prefix = u.pathname.replace(/\/+$/, '')
  } catch {
    throw new AppError('CONFIG_INVALID', `store "${o.store}": invalid url "${base.slice(0, 80)}" (expected http:// or https://)`)
  }
  const agent = new Agent({ connections: o.connections ?? 8, keepAliveTimeout: 10_000, connect: { timeout: o.timeoutMs ?? 15_000 } })
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const now = o.now ?? Date.now
  const rand = o.random ?? Math.random
  const maxAttempts = o.maxAttempts ?? 5
  const maxElapsed = o.maxElapsedMs ?? 60_000
  const baseDelay = o.baseDelayMs ?? 250
  let count = 0
  const who = `store "${o.store}" (${o.vendor})`

  async function once(r: VendorRequest): Promise<VendorResponse> {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) qs.set(k, String(v))
    const q = qs.toString()
    const body = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body)
    count++
    const res = await request(`${origin}${prefix}${r.path}${q ? `?${q}` : ''}`, {
      method: r.method as 'GET',
      dispatcher: agent,
      headers: { accept: 'application/json', 'user-agent': 'rekey', ...o.headers, ...(body !== undefined ? { 'content-type': r.contentType ?? 'application/json' } : {}), ...(r.headers ?? {}) },
      ...(body !== undefined ? { body } : {}),
      headersTimeout: o.timeoutMs ?? 15_000,
      bodyTimeout: o.timeoutMs ?? 15_000,
    })
    const text = await res.body.text()
    let parsed: unknown
    if (text !== '') {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = text
      }
    }
    return { status: res.statusCode, headers: res.headers, body: parsed }
  }

  function vendorText(res: VendorResponse, sent: string[]): string {
    const t = o.errorText?.(res.body, res.status) ?? (typeof res.body === 'string' ? res.body : undefined)
    return t ? `: ${scrub(t, sent)}` : ''
  }

  return {
    get requests() {
      return count
    },
    async send<T>(r: VendorRequest): Promise<VendorResponse<T>> {
      const sent = sentStrings(r.body)
      const started = now()
      for (let attempt = 1; ; attempt++) {
        let res: VendorResponse | undefined
        let dropped: string | undefined
        try {
          res = await once(r)
        } catch (e) {
          const code = (e as { code?: string }).code ?? ''
          if (!(DROPPED.has(code) || e instanceof undiciErrors.SocketError || e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError || e instanceof undiciErrors.ConnectTimeoutError)) {
            throw new AdapterError(o.vendor, r.what, `${who}: request failed (${code || (e as Error).name})`, { cause: e })
          }
          dropped = code || (e as Error).name
        }
        if (res && (r.expect?.includes(res.status) || (res.status >= 200 && res.status < 300))) return res as VendorResponse<T>
        const retry = dropped !== undefined || (res !== undefined && (RETRY_STATUS.has(res.status) || (o.retryable?.(res.status, res.headers, res.body) ?? false)))
        if (res && !retry) {
          if (res.status === 401 || res.status === 403) {
            throw new AppError('STORE_AUTH_FAILED', `${who} refused the credential (HTTP ${res.status}) while trying to ${r.what}${vendorText(res, sent)}`, {
              hint: 'check the token variable for this store (token_env_var) and its permissions',
            })
          }
          const code = res.status === 404 ? 'NOT_FOUND' : res.status === 409 || res.status === 412 ? 'CONFLICT' : 'ADAPTER_FAILED'
          throw new AppError(code, `${who}: ${r.what} failed (HTTP ${res.status})${vendorText(res, sent)}`)
        }
        const elapsed = now() - started
        const asked = res ? requestedWaitMs(res.headers, now()) : undefined
        const backoff = Math.floor(rand() * Math.min(8000, baseDelay * 2 ** (attempt - 1)))
        const wait = asked !== undefined ? asked + Math.floor(rand() * 250) : backoff
        if (attempt >= maxAttempts || elapsed + wait > maxElapsed) {
          const why = dropped ? `connection dropped (${dropped})` : `HTTP ${res!.status}${vendorText(res!, sent)}`
          throw new AppError(res?.status === 429 ? 'RATE_LIMITED' : 'ADAPTER_FAILED', `${who}: ${r.what} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${why}`, { retryable: true })
        }
        await sleep(wait)
      }
    },
    async close() {
      await agent.close()
    },
  }
}

/** The token for a store: the variable `token_env_var` names, else the vendor's usual ones, in order. */
export function storeToken(store: string, env: Record<string, string | undefined>, tokenEnvVar: string | undefined, defaults: string[]): string {
  const names = tokenEnvVar ? [tokenEnvVar] : defaults
  for (const n of names) {
    const v = env[n]
    if (v !== undefined && v !== '') return v
  }
  throw new AppError('CONFIG_INVALID', `store "${store}": no credential: set ${names.join(' or ')}`, { hint: 'credentials come only from the environment, never from .envault.yml' })
}

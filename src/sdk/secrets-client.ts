import { EventEmitter } from 'node:events'

/** Options of {@link createSecretsClient}. */
export interface SecretsClientOptions {
  /** Base URL of `rekey serve`, e.g. `http://127.0.0.1:8080`. */
  url: string
  /** A token with `env:<env>:read` for the environments read. */
  token: string
  /** How long a value is fresh, in ms (default 300 000, seed 003's 5 minutes). */
  ttl?: number
  /** The environment used when `get` is not given one. */
  env?: string
  /** Refresh cached values in the background every `ttl` (default true). */
  backgroundRefresh?: boolean
  /** Per-request timeout in ms (default 5000). */
  timeoutMs?: number
  /** Injected clock (ms), for tests. */
  now?: () => number
  fetch?: typeof fetch
}

/** A value with where it came from. */
export interface SecretResult {
  value: string
  version: number
  /** True when the server could not be reached and the last known value was served. */
  stale: boolean
  /** Milliseconds since the value was last confirmed by the server. */
  ageMs: number
}

export interface ChangeEvent {
  env: string
  name: string
  version: number
  previousVersion: number
}

export interface StaleEvent {
  env: string
  name: string
  ageMs: number
  error: string
}

interface Entry {
  value: string
  version: number
  fetchedAt: number
  refreshing?: Promise<void>
}

/** Raised when a value cannot be had at all (never fetched and the server is unreachable, or 404). */
export class SecretsClientError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string,
  ) {
    super(message)
    this.name = 'SecretsClientError'
  }
}

export interface SecretsClient {
  /** The value of `name` (from cache while fresh; the last known value if the server is down). */
  get(name: string, env?: string): Promise<string>
  /** Like `get`, with the version, staleness and age (seed 003's vault-outage report). */
  getWithMeta(name: string, env?: string): Promise<SecretResult>
  /** Emitted when a refresh sees a new version of a cached value. */
  on(ev: 'change', fn: (e: ChangeEvent) => void): this
  /** Emitted when the last known value is served because the server failed. */
  on(ev: 'stale', fn: (e: StaleEvent) => void): this
  off(ev: 'change', fn: (e: ChangeEvent) => void): this
  off(ev: 'stale', fn: (e: StaleEvent) => void): this
  /** Fetches every cached value again now. */
  refresh(): Promise<void>
  /** Stops background refresh. */
  close(): void
}

/**
 * A secrets client for applications: seed 003's "read keys dynamically" pattern. Values are
 * cached for `ttl`; cached values are refreshed in the background, so a rotation reaches the
 * application without a restart and `change` fires; when the server is down, the last known value
 * is served with its age (`stale` fires) instead of failing the caller.
 *
 * @example
 * import { createSecretsClient } from 'rekey/sdk'
 * const secrets = createSecretsClient({ url: 'http://127.0.0.1:8080', token: process.env.REKEY_TOKEN!, env: 'prod', ttl: 60_000 })
 * secrets.on('change', (e) => console.log(`${e.name} is now v${e.version}`))
 * const stripeKey = await secrets.get('STRIPE_API_KEY')
 */
export function createSecretsClient(o: SecretsClientOptions): SecretsClient {
  const ttl = o.ttl ?? 300_000
  const now = o.now ?? Date.now
  const doFetch = o.fetch ?? fetch
  const base = o.url.replace(/\/+$/, '')
  const cache = new Map<string, Entry>()
  const em = new EventEmitter()
  const keyOf = (env: string, name: string) => `${env}\u0000${name}`

  const envOf = (env: string | undefined) => {
    const e = env ?? o.env
    if (!e) throw new SecretsClientError('no environment: pass one to get() or set env in createSecretsClient', undefined, 'USAGE')
    return e
  }

  const fetchOne = async (env: string, name: string): Promise<{ value: string; version: number }> => {
    const ctl = new AbortController()
    const t = setTimeout(() => ctl.abort(), o.timeoutMs ?? 5000)
    let res: Response
    try {
      res = await doFetch(`${base}/v1/envs/${encodeURIComponent(env)}/secrets/${encodeURIComponent(name)}`, {
        headers: { authorization: `Bearer ${o.token}`, accept: 'application/json' },
        signal: ctl.signal,
      })
    } catch (e) {
      throw new SecretsClientError(`cannot reach ${base}: ${(e as Error).name === 'AbortError' ? 'timed out' : 'connection failed'}`, undefined, 'UNAVAILABLE')
    } finally {
      clearTimeout(t)
    }
    const body = (await res.json().catch(() => ({}))) as { value?: unknown; version?: unknown; error?: { code?: string; message?: string } }
    if (!res.ok) throw new SecretsClientError(body.error?.message ?? `HTTP ${res.status}`, res.status, body.error?.code ?? 'HTTP_ERROR')
    if (typeof body.value !== 'string' || typeof body.version !== 'number') throw new SecretsClientError('unexpected response', res.status, 'BAD_RESPONSE')
    return { value: body.value, version: body.version }
  }

  /** Refreshes one entry; on a server failure keeps the old value (and reports it as stale). */
  const refreshEntry = (env: string, name: string, e: Entry): Promise<void> =>
    (e.refreshing ??= (async () => {
      try {
        const r = await fetchOne(env, name)
        const prev = e.version
        const changed = r.version !== e.version || r.value !== e.value
        e.value = r.value
        e.version = r.version
        e.fetchedAt = now()
        if (changed) em.emit('change', { env, name, version: r.version, previousVersion: prev } satisfies ChangeEvent)
      } catch (err) {
        const se = err as SecretsClientError
        // A value that is gone (404) or a token that lost access is not served stale.
        if (se.status === 404 || se.status === 401 || se.status === 403) {
          cache.delete(keyOf(env, name))
          throw err
        }
        em.emit('stale', { env, name, ageMs: now() - e.fetchedAt, error: se.message } satisfies StaleEvent)
      } finally {
        e.refreshing = undefined
      }
    })())

  const getWithMeta = async (name: string, env?: string): Promise<SecretResult> => {
    const ev = envOf(env)
    const k = keyOf(ev, name)
    let e = cache.get(k)
    if (!e) {
      const r = await fetchOne(ev, name)
      e = { value: r.value, version: r.version, fetchedAt: now() }
      cache.set(k, e)
      return { value: e.value, version: e.version, stale: false, ageMs: 0 }
    }
    if (now() - e.fetchedAt >= ttl) await refreshEntry(ev, name, e)
    const age = now() - e.fetchedAt
    return { value: e.value, version: e.version, stale: age >= ttl, ageMs: age }
  }

  const refreshAll = async () => {
    await Promise.all(
      [...cache].map(([k, e]) => {
        const [env, name] = k.split('\u0000') as [string, string]
        return refreshEntry(env, name, e).catch(() => undefined)
      }),
    )
  }
  let timer: NodeJS.Timeout | undefined
  if (o.backgroundRefresh !== false) {
    timer = setInterval(() => void refreshAll(), Math.max(ttl, 100))
    timer.unref()
  }

  const client: SecretsClient = {
    get: async (name, env) => (await getWithMeta(name, env)).value,
    getWithMeta,
    on(ev: string, fn: (e: ChangeEvent & StaleEvent) => void) {
      em.on(ev, fn)
      return client
    },
    off(ev: string, fn: (e: ChangeEvent & StaleEvent) => void) {
      em.off(ev, fn)
      return client
    },
    refresh: refreshAll,
    close() {
      if (timer) clearInterval(timer)
    },
  }
  return client
}

import { createHash } from 'node:crypto'
import type { ApiToken, TokenStore } from '../adapters/postgres/token-store.js'
import type { ChangeListener } from '../adapters/postgres/listener.js'
import type { AuthApi } from './deps.js'

/**
 * Token lookups cached in memory by the token's SHA-256, so the verify hot path does not go to
 * the database for its caller's token. A revoked token is dropped from every instance's cache
 * by the change notification; while the listener is disconnected the cache is bypassed.
 */
export function createCachedAuth(store: Pick<TokenStore, 'authenticate'>, listener?: Pick<ChangeListener, 'on' | 'connected'>): AuthApi & { clear(): void } {
  const cache = new Map<string, ApiToken>()
  let gen = 0
  const clear = () => {
    gen++
    cache.clear()
  }
  listener?.on('change', (e) => {
    if (e.kind === 'token') clear()
  })
  listener?.on('reset', clear)
  return {
    clear,
    async authenticate(token) {
      const useCache = listener === undefined || listener.connected
      const h = createHash('sha256').update(token).digest('base64')
      if (useCache) {
        const hit = cache.get(h)
        if (hit) return hit
      }
      const g = gen
      const t = await store.authenticate(token)
      if (t && useCache && g === gen) {
        if (cache.size > 10_000) cache.clear()
        cache.set(h, t)
      }
      return t
    },
  }
}

/**
 * Counts authentication failures per client address in a fixed window. Once an address has
 * failed too often it is refused with 429 until the window ends, before its token is looked at.
 */
export class FailureLimiter {
  private readonly hits = new Map<string, { n: number; until: number }>()
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Seconds to wait when blocked, else 0. */
  blocked(addr: string): number {
    const h = this.hits.get(addr)
    if (!h) return 0
    const t = this.now()
    if (t >= h.until) {
      this.hits.delete(addr)
      return 0
    }
    return h.n >= this.max ? Math.ceil((h.until - t) / 1000) : 0
  }

  fail(addr: string): void {
    const t = this.now()
    const h = this.hits.get(addr)
    if (!h || t >= h.until) {
      if (this.hits.size > 100_000) this.sweep(t)
      this.hits.set(addr, { n: 1, until: t + this.windowMs })
    } else h.n++
  }

  private sweep(t: number) {
    for (const [k, v] of this.hits) if (t >= v.until) this.hits.delete(k)
  }
}

import type { KeyEntry } from '../core/keys/key-entry.js'
import type { KeyRepository, KeyTx, MutateOptions } from '../core/keys/ports.js'
import type { ChangeListener } from '../adapters/postgres/listener.js'

type Hit = { entry: KeyEntry; version: number } | null

export interface CacheStats {
  size: number
  hits: number
  misses: number
}

/**
 * The verification cache: `findByHash` answers from memory, keyed by the key's hash. It is kept
 * correct by invalidation, never by a TTL: every rotate/revoke/create commits a NOTIFY, and each
 * instance drops the changed key (and every negative entry) as soon as it arrives. Its own
 * mutations invalidate synchronously on commit. While the listener is disconnected the cache is
 * bypassed, and it is dropped whole when the listener reconnects, since notifications may have
 * been missed. Status (expiry, grace) is still decided per request from the entry and the clock.
 */
export function createCachedKeyRepository(inner: KeyRepository, listener: Pick<ChangeListener, 'on' | 'connected'>, o: { max?: number } = {}): KeyRepository & { stats(): CacheStats } {
  const max = o.max ?? 2_000_000
  const byHash = new Map<string, Hit>()
  const hashesOf = new Map<string, string[]>()
  let negatives = 0
  let gen = 0
  let hits = 0
  let misses = 0

  const dropAll = () => {
    gen++
    byHash.clear()
    hashesOf.clear()
    negatives = 0
  }
  const dropId = (id: string) => {
    gen++
    for (const h of hashesOf.get(id) ?? []) byHash.delete(h)
    hashesOf.delete(id)
    // A new key or version may now match a hash that was cached as unknown.
    if (negatives > 0) {
      for (const [h, v] of byHash) if (v === null) byHash.delete(h)
      negatives = 0
    }
  }
  listener.on('change', (e) => {
    if (e.kind === 'key') dropId(e.id)
  })
  listener.on('reset', dropAll)

  return {
    ...inner,
    get: (id) => inner.get(id),
    list: () => inner.list(),
    recordUse: (u) => inner.recordUse(u),
    flush: () => inner.flush(),
    close: () => inner.close(),
    async findByHash(hash) {
      const useCache = listener.connected
      if (useCache) {
        const c = byHash.get(hash)
        if (c !== undefined) {
          hits++
          return c ?? undefined
        }
      }
      misses++
      const g = gen
      const r = await inner.findByHash(hash)
      // Only cache what was read after the last invalidation began.
      if (useCache && g === gen && listener.connected) {
        if (byHash.size >= max) dropAll()
        if (r) {
          byHash.set(hash, r)
          const list = hashesOf.get(r.entry.id)
          if (list) list.push(hash)
          else hashesOf.set(r.entry.id, [hash])
        } else if (negatives < 100_000) {
          byHash.set(hash, null)
          negatives++
        }
      }
      return r
    },
    async mutate<T>(fn: (tx: KeyTx) => Promise<T> | T, beforeCommit?: (result: T) => Promise<void>, o?: MutateOptions) {
      const touched: string[] = []
      try {
        return await inner.mutate((tx) => fn({ ...tx, get: (id) => tx.get(id), has: (id) => tx.has(id), all: () => tx.all(), put: (e) => (touched.push(e.id), tx.put(e)) }), beforeCommit, o)
      } finally {
        for (const id of touched) dropId(id)
      }
    },
    stats: () => ({ size: byHash.size, hits, misses }),
  }
}

import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.js'
import type { KeyEntry, KeyUsage } from './key-entry.js'
import type { KeyRepository, SigningKeyStore } from './ports.js'
import { HashIndex, addUse, cloneEntry, createWorkingTx, onlyIds, withUsage, type UsageTally } from './key-index.js'

export interface MemoryKeyRepository extends KeyRepository {
  /** Puts entries directly (test setup; no audit, no lock). */
  seed(entries: KeyEntry[]): void
  /** Makes the next commit fail after `beforeCommit`, as a disk error would. */
  failNextWrite(): void
  /** Number of usage records not yet flushed (buffered). */
  pendingUses(): number
}

/**
 * An in-memory KeyRepository that follows the same rules as the real ones
 * (copies in and out, serialised mutations, hash index, usage buffered until flush). For unit
 * tests of the use cases; checked by the same contract suite as the file and PostgreSQL stores.
 */
export function createMemoryKeyRepository(): MemoryKeyRepository {
  const byId = new Map<string, KeyEntry>()
  let index = new HashIndex()
  const usage: UsageTally = new Map()
  let buffered: KeyUsage[] = []
  let chain: Promise<unknown> = Promise.resolve()
  let failNext = false

  const serialise = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn)
    chain = p.catch(() => undefined)
    return p
  }

  const view = (e: KeyEntry): KeyEntry => cloneEntry(withUsage(e, usage))

  const repo: MemoryKeyRepository = {
    async get(id) {
      const e = byId.get(id)
      return e ? view(e) : undefined
    },
    async findByHash(hash) {
      const hit = index.get(hash)
      const e = hit ? byId.get(hit.id) : undefined
      return hit && e ? { entry: cloneEntry(e), version: hit.version } : undefined
    },
    async list() {
      return [...byId.values()].map(view)
    },
    mutate(fn, beforeCommit, o) {
      return serialise(async () => {
        const { tx, work, ix } = createWorkingTx(byId)
        // Holds everything anyway, but enforces declared ids so unit tests catch a missing one.
        const result = await fn(o?.ids ? onlyIds(tx, o.ids) : tx)
        if (beforeCommit) await beforeCommit(result)
        if (failNext) {
          failNext = false
          throw new AppError('ADAPTER_FAILED', 'memory key repository: injected write failure')
        }
        byId.clear()
        for (const [k, v] of work) byId.set(k, v)
        index = ix
        return result
      })
    },
    async recordUse(u) {
      buffered.push({ ...u })
    },
    async flush() {
      for (const u of buffered) addUse(usage, u)
      buffered = []
    },
    async close() {
      await repo.flush()
    },
    seed(entries) {
      for (const e of entries) {
        const old = byId.get(e.id)
        if (old) index.remove(old)
        byId.set(e.id, cloneEntry(e))
        index.add(e)
      }
    },
    failNextWrite() {
      failNext = true
    },
    pendingUses: () => buffered.length,
  }
  return repo
}

/** An in-memory SigningKeyStore (secrets from the system CSPRNG). */
export function createMemorySigningKeyStore(): SigningKeyStore {
  const secrets = new Map<string, Uint8Array>()
  return {
    async getOrCreate(keyId) {
      let s = secrets.get(keyId)
      if (!s) {
        s = new Uint8Array(randomBytes(32))
        secrets.set(keyId, s)
      }
      return s
    },
    async get(keyId) {
      return secrets.get(keyId)
    },
  }
}

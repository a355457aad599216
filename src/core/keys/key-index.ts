import { AppError } from '../errors.js'
import type { KeyEntry, KeyUsage } from './key-entry.js'
import type { KeyTx } from './ports.js'

/** A deep copy, so callers can never edit what a repository holds. */
export function cloneEntry(e: KeyEntry): KeyEntry {
  return {
    ...e,
    ...(e.claims ? { claims: { ...e.claims } } : {}),
    versions: e.versions.map((v) => ({ ...v })),
  }
}

/** Freezes an entry in place (deeply), so a repository can hand it out without copying. */
export function freezeEntry(e: KeyEntry): Readonly<KeyEntry> {
  for (const v of e.versions) Object.freeze(v)
  Object.freeze(e.versions)
  if (e.claims) Object.freeze(e.claims)
  return Object.freeze(e)
}

/** Uses not yet folded into entries, keyed by `id:version`. */
export type UsageTally = Map<string, { last: number; count: number }>

export function tallyKey(id: string, version: number): string {
  return `${id}:${version}`
}

export function addUse(t: UsageTally, u: KeyUsage): void {
  const k = tallyKey(u.id, u.version)
  const at = new Date(u.at).getTime()
  if (!Number.isFinite(at)) return
  const cur = t.get(k)
  if (cur) {
    cur.count++
    if (at > cur.last) cur.last = at
  } else {
    t.set(k, { last: at, count: 1 })
  }
}

/** Returns `e` with the tallied uses of each version added to its `use_count`/`last_used_at`. */
export function withUsage(e: KeyEntry, t: UsageTally): KeyEntry {
  if (t.size === 0) return e
  let changed = false
  const versions = e.versions.map((v) => {
    const u = t.get(tallyKey(e.id, v.version))
    if (!u) return v
    changed = true
    const prev = v.last_used_at === null ? -Infinity : new Date(v.last_used_at).getTime()
    return { ...v, use_count: v.use_count + u.count, last_used_at: new Date(Math.max(prev, u.last)).toISOString() }
  })
  return changed ? { ...e, versions } : e
}

/**
 * Index of every version's hash → (entry id, version, and the entry itself), for verify without
 * scanning: one Map lookup gives the entry (the verify hot path does no second lookup by id).
 */
export class HashIndex {
  private readonly map = new Map<string, { id: string; version: number; entry: KeyEntry }>()

  static of(entries: Iterable<KeyEntry>): HashIndex {
    const ix = new HashIndex()
    for (const e of entries) ix.add(e)
    return ix
  }

  get(hash: string): { id: string; version: number; entry: KeyEntry } | undefined {
    return this.map.get(hash)
  }

  add(e: KeyEntry): void {
    for (const v of e.versions) this.map.set(v.key_hash, { id: e.id, version: v.version, entry: e })
  }

  remove(e: KeyEntry): void {
    for (const v of e.versions) if (this.map.get(v.key_hash)?.id === e.id) this.map.delete(v.key_hash)
  }

  /** Throws ALREADY_EXISTS when one of `e`'s hashes belongs to another entry. */
  assertFree(e: KeyEntry): void {
    for (const v of e.versions) {
      const owner = this.map.get(v.key_hash)
      if (owner && owner.id !== e.id) throw new AppError('ALREADY_EXISTS', `this key is already in the keystore as ${owner.id}`)
    }
  }
}

/** Basic shape checks on an entry before it is stored (ids, versions, hashes). */
export function assertWellFormed(e: KeyEntry): void {
  if (!/^[0-9a-f]{12}$/.test(e.id)) throw new AppError('INTERNAL', `invalid key id "${e.id}"`)
  if (!e.versions.some((v) => v.version === e.version)) throw new AppError('INTERNAL', `key ${e.id} has no record of its current version ${e.version}`)
  const seen = new Set<number>()
  for (const v of e.versions) {
    if (seen.has(v.version)) throw new AppError('INTERNAL', `key ${e.id} has version ${v.version} twice`)
    seen.add(v.version)
    if (!/^[0-9a-f]{64}$/.test(v.key_hash)) throw new AppError('INTERNAL', `key ${e.id} version ${v.version} has an invalid hash`)
  }
}

/**
 * The working copy a KeyRepository's `mutate` hands to its callback: reads return copies, and
 * each `put` is shape-checked and kept unique by hash. Shared by every repository that
 * commits a whole working map (the file keystore, the in-memory fake).
 */
export function createWorkingTx(current: ReadonlyMap<string, KeyEntry>): { tx: KeyTx; work: Map<string, KeyEntry>; ix: HashIndex } {
  const work = new Map(current)
  const ix = HashIndex.of(work.values())
  const tx: KeyTx = {
    get: (id) => {
      const e = work.get(id)
      return e ? cloneEntry(e) : undefined
    },
    has: (id) => work.has(id),
    all: () => [...work.values()].map(cloneEntry),
    put: (entry) => {
      assertWellFormed(entry)
      ix.assertFree(entry)
      const old = work.get(entry.id)
      if (old) ix.remove(old)
      const copy = cloneEntry(entry)
      work.set(entry.id, copy)
      ix.add(copy)
    },
  }
  return { tx, work, ix }
}

/**
 * Restricts a transaction view to the ids a mutation declared (`mutate(fn, before, { ids })`):
 * `all()` and any other id throw INTERNAL, so a use case that forgets an id fails in tests
 * rather than misbehaving on a store that loaded only the declared rows.
 */
export function onlyIds(tx: KeyTx, ids: readonly string[]): KeyTx {
  const allowed = new Set(ids)
  const check = (id: string, what: string) => {
    if (!allowed.has(id)) throw new AppError('INTERNAL', `key mutation ${what} key ${id}, which is not among the ids it declared`)
  }
  return {
    get: (id) => (check(id, 'read'), tx.get(id)),
    has: (id) => (check(id, 'read'), tx.has(id)),
    all: () => {
      throw new AppError('INTERNAL', 'tx.all() needs a key mutation without ids (this one declared the ids it reads)')
    },
    put: (e) => (check(e.id, 'wrote'), tx.put(e)),
  }
}

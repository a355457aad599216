import { hash } from 'node:crypto'
import type { VerifyOutcome } from './verify-middleware.js'

/**
 * The SDK's verification cache, compact enough to hold a million keys in about 100 bytes each.
 *
 * A key is never kept: its slot is found by the first 16 bytes of its SHA-256, held as a
 * 16-character latin1 string (a Map from that to a slot number), so one entry costs a short
 * string, one Map entry and a few typed-array cells, instead of an outcome object per key. The
 * outcome is rebuilt on each hit from the slot's fields; strings that repeat across keys (names,
 * services, grace dates, reasons) are interned once. 128 bits of digest leave no practical chance
 * of two live keys colliding.
 */
const STATUS = ['VALID', 'REVOKED', 'EXPIRED', 'INVALID'] as const
type Status = (typeof STATUS)[number]
const HEX12 = /^[0-9a-f]{12}$/

export interface VerifyCache {
  /** The digest a key is cached under (computed once per verify). */
  digest(key: string): string
  /** The outcome (frozen: shared by every hit of the key), or undefined when absent or expired. */
  get(digest: string, now: number): Readonly<VerifyOutcome> | undefined
  set(digest: string, r: VerifyOutcome, until: number): void
  /**
   * Counts one use of a cached valid outcome (kept in its slot: no allocation per hit), for
   * the usage report the server's idle-gated revocation reads.
   */
  use(digest: string, at: number): void
  /** The uses counted since the last call, per key version, and resets them. */
  takeUses(): { id: string; version: number; count: number; last: number }[]
  readonly size: number
  clear(): void
}

export function createVerifyCache(capacity: number): VerifyCache {
  const slots = new Map<string, number>()
  const until = new Float64Array(capacity)
  const version = new Uint32Array(capacity)
  /** status index (2 bits), deprecated (bit 2), has version (bit 3), has id (bit 4). */
  const flags = new Uint8Array(capacity)
  /** A 12-hex id as a number (ids of another form: -1 - index into `ids`). */
  const idNum = new Float64Array(capacity)
  /** Interned strings: name, service, grace_until, reason (0 = absent). */
  const nameRef = new Int32Array(capacity)
  const serviceRef = new Int32Array(capacity)
  const graceRef = new Int32Array(capacity)
  const reasonRef = new Int32Array(capacity)
  const useCount = new Uint32Array(capacity)
  const lastUse = new Float64Array(capacity)
  /** Slots with uses not yet taken. */
  const dirty: number[] = []
  /** Uses of slots dropped by clear() before they were taken. */
  let carried: { id: string; version: number; count: number; last: number }[] = []
  // Ids are unique per key, so the rare non-hex ones get their own table; the others repeat and are interned.
  const ids: string[] = []
  /** Materialised outcomes of recently hit slots (bounded: cleared past HOT_MAX). */
  const hot = new Map<number, Readonly<VerifyOutcome>>()
  const HOT_MAX = 16_384
  const strings: string[] = ['']
  const interned = new Map<string, number>()
  let used = 0

  const intern = (s: string | undefined): number => {
    if (s === undefined) return 0
    let i = interned.get(s)
    if (i === undefined) {
      i = strings.length
      strings.push(s)
      interned.set(s, i)
    }
    return i
  }

  const cache: VerifyCache = {
    digest: (key) => hash('sha256', key, 'binary').slice(0, 16),
    get(d, now) {
      const i = slots.get(d)
      if (i === undefined || until[i]! <= now) return undefined
      const h = hot.get(i)
      if (h !== undefined) return h
      const f = flags[i]!
      const r: VerifyOutcome = { valid: (f & 3) === 0, status: STATUS[f & 3] as Status, deprecated: (f & 4) !== 0 }
      if (f & 16) r.id = idNum[i]! >= 0 ? idNum[i]!.toString(16).padStart(12, '0') : ids[-1 - idNum[i]!]!
      if (f & 8) r.version = version[i]!
      if (graceRef[i]) r.grace_until = strings[graceRef[i]]!
      if (reasonRef[i]) r.reason = strings[reasonRef[i]]!
      if (nameRef[i]) r.name = strings[nameRef[i]]!
      if (serviceRef[i]) r.service = strings[serviceRef[i]]!
      if (hot.size >= HOT_MAX) hot.clear()
      hot.set(i, Object.freeze(r))
      return r
    },
    set(d, r, u) {
      let i = slots.get(d)
      if (i === undefined) {
        // Full: start over (entries live a second by default, so this is rare and cheap).
        if (used >= capacity) cache.clear()
        i = used++
        slots.set(d, i)
      }
      const s = Math.max(0, STATUS.indexOf(r.status))
      until[i] = u
      version[i] = r.version ?? 0
      flags[i] = s | (r.deprecated ? 4 : 0) | (r.version !== undefined ? 8 : 0) | (r.id !== undefined ? 16 : 0)
      hot.delete(i)
      if (r.id !== undefined) {
        if (HEX12.test(r.id)) idNum[i] = parseInt(r.id, 16)
        else {
          idNum[i] = -1 - ids.length
          ids.push(r.id)
        }
      }
      nameRef[i] = intern(r.name)
      serviceRef[i] = intern(r.service)
      graceRef[i] = intern(r.grace_until)
      reasonRef[i] = intern(r.reason)
    },
    use(d, at) {
      const i = slots.get(d)
      if (i === undefined || (flags[i]! & 3) !== 0 || (flags[i]! & 24) !== 24) return
      if (useCount[i] === 0) dirty.push(i)
      useCount[i]!++
      if (at > lastUse[i]!) lastUse[i] = at
    },
    takeUses() {
      const out = carried
      carried = []
      const byKey = new Map<string, { id: string; version: number; count: number; last: number }>()
      for (const u of out) byKey.set(`${u.id}:${u.version}`, u)
      for (const i of dirty) {
        const id = idNum[i]! >= 0 ? idNum[i]!.toString(16).padStart(12, '0') : ids[-1 - idNum[i]!]!
        const k = `${id}:${version[i]}`
        const cur = byKey.get(k)
        if (cur) {
          cur.count += useCount[i]!
          cur.last = Math.max(cur.last, lastUse[i]!)
        } else byKey.set(k, { id, version: version[i]!, count: useCount[i]!, last: lastUse[i]! })
        useCount[i] = 0
        lastUse[i] = 0
      }
      dirty.length = 0
      return [...byKey.values()]
    },
    get size() {
      return slots.size
    },
    clear() {
      if (dirty.length) carried = cache.takeUses()
      slots.clear()
      ids.length = 0
      strings.length = 1
      interned.clear()
      hot.clear()
      used = 0
    },
  }
  return cache
}

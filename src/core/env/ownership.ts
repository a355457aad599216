import { hmacSha256Hex } from '../crypto/hash.js'
import type { Fingerprinter, LedgerEntry, OwnershipLedger } from './ports.js'

/**
 * Fingerprints under a key of their own (derived from the master key by the composition root):
 * equal values give equal fingerprints, and a fingerprint cannot be turned back into a value or
 * checked against a guess without the key.
 */
export function createHmacFingerprinter(key: Uint8Array): Fingerprinter {
  return { fingerprint: (value) => hmacSha256Hex(key, value) }
}

/** An in-memory ownership ledger (tests, and single-process use). */
export function createMemoryLedger(): OwnershipLedger & { entries: Map<string, Map<string, LedgerEntry>> } {
  const entries = new Map<string, Map<string, LedgerEntry>>()
  return {
    entries,
    async read(place) {
      return new Map(entries.get(place) ?? [])
    },
    async update(place, changes) {
      const m = entries.get(place) ?? new Map<string, LedgerEntry>()
      for (const [k, v] of changes) {
        if (v === null) m.delete(k)
        else m.set(k, { ...v })
      }
      entries.set(place, m)
    },
  }
}

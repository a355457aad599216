import { dirname } from 'node:path'
import type { LedgerEntry, OwnershipLedger } from '../../core/env/ports.js'
import { AppError } from '../../core/errors.js'
import { ensurePrivateDir, readFileIfExists, writeFileAtomic } from './atomic-write.js'
import { withFileLock } from './file-lock.js'

/**
 * rekey's ownership and fingerprint records for stores that cannot mark what rekey wrote or be
 * read back (GitHub Actions secrets, Vercel, Render, Doppler), in one JSON file of the project
 * (`.rekey/ledger.json`, 0600 in a 0700 folder). It holds keyed fingerprints (HMAC) and vendor
 * stamps, never values. Every update is a read-merge-write under the file lock, written
 * atomically, so concurrent rekey processes never lose each other's records.
 */
type LedgerFile = { version: 1; places: Record<string, Record<string, LedgerEntry>> }

export function createFileLedger(path: string): OwnershipLedger {
  async function load(): Promise<LedgerFile> {
    const text = await readFileIfExists(path)
    if (text === undefined) return { version: 1, places: {} }
    try {
      const doc = JSON.parse(text) as LedgerFile
      if (doc.version !== 1 || typeof doc.places !== 'object' || doc.places === null) throw new Error('shape')
      return doc
    } catch {
      throw new AppError('STORE_CORRUPT', `${path} (rekey's ownership ledger) is corrupt`, { hint: 'restore it from a backup; without it rekey treats keys in write-only stores as unmanaged' })
    }
  }
  return {
    async read(place) {
      return new Map(Object.entries((await load()).places[place] ?? {}))
    },
    async update(place, changes) {
      if (changes.size === 0) return
      await ensurePrivateDir(dirname(path))
      await withFileLock(path, async () => {
        const doc = await load()
        const m = { ...(doc.places[place] ?? {}) }
        for (const [k, v] of changes) {
          if (v === null) delete m[k]
          else m[k] = { fp: v.fp, stamp: v.stamp, at: v.at }
        }
        if (Object.keys(m).length === 0) delete doc.places[place]
        else doc.places[place] = m
        await writeFileAtomic(path, JSON.stringify(doc), { what: path })
      })
    },
  }
}

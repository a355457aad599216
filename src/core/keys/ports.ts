import type { KeyEntry, KeyUsage } from './key-entry.js'

/**
 * Storage of apiauth keys. Implemented by the encrypted file keystore (embedded default) and by
 * PostgreSQL. The same contract suite runs against every implementation.
 */
export interface KeyRepository {
  get(id: string): Promise<KeyEntry | undefined>
  /** Finds the entry holding a version with this hash, without scanning every key. */
  findByHash(keyHash: string): Promise<{ entry: KeyEntry; version: number } | undefined>
  list(): Promise<KeyEntry[]>
  /**
   * Read-modify-write under the store's lock: `fn` sees the current entries and returns the
   * entries to upsert. Nothing is written if `fn` throws. `beforeCommit` runs after `fn` and
   * before the write (used to append the audit event first: if it fails, nothing changes).
   */
  mutate<T>(fn: (tx: KeyTx) => Promise<T> | T, beforeCommit?: (result: T) => Promise<void>): Promise<T>
  /** Records that a version was used (cheap: no full rewrite of the store). */
  recordUse(u: KeyUsage): Promise<void>
  /** Per-version usage (last used, count), merged into entries returned by get/list. */
}

export interface KeyTx {
  get(id: string): KeyEntry | undefined
  has(id: string): boolean
  all(): KeyEntry[]
  put(entry: KeyEntry): void
}

/** Where JWT signing keys live, sealed by the master key. */
export interface SigningKeyStore {
  /** Returns the signing secret for a key entry, creating it on first use. */
  getOrCreate(keyId: string): Promise<Uint8Array>
  get(keyId: string): Promise<Uint8Array | undefined>
}

import type { KeyEntry, KeyUsage } from './key-entry.js'

/**
 * Storage of apiauth keys. Implemented by the encrypted file keystore (embedded default) and by
 * PostgreSQL. The same contract suite (`key-repository.contract.ts`) runs against every
 * implementation.
 *
 * Entries returned by `get`/`list` carry per-version usage (`last_used_at`, `use_count`) with
 * every recorded use folded in. `findByHash` is the verify hot path: it must not scan every key
 * and may return entries whose usage fields lag behind.
 */
export interface KeyRepository {
  get(id: string): Promise<KeyEntry | undefined>
  /**
   * Finds the entry holding a version with this hash, without scanning every key. The entry is
   * read-only (it may be frozen and shared with the repository's cache).
   */
  findByHash(keyHash: string): Promise<{ entry: KeyEntry; version: number } | undefined>
  list(): Promise<KeyEntry[]>
  /**
   * Read-modify-write under the store's lock: `fn` sees the current entries and puts the ones to
   * upsert. Nothing is written if `fn` throws. `beforeCommit` runs after `fn` and before the
   * write (used to append the audit event first: if it throws, nothing changes).
   *
   * `o.ids` names every id the mutation will read or write. A store may then load only those
   * entries (PostgreSQL does: no whole-table read); `tx.all()` and any other id are refused
   * with INTERNAL (a programming error). Without `ids`, `fn` sees every entry.
   */
  mutate<T>(fn: (tx: KeyTx) => Promise<T> | T, beforeCommit?: (result: T) => Promise<void>, o?: MutateOptions): Promise<T>
  /**
   * Records that a version was used. Cheap: never rewrites the whole store. An implementation
   * may buffer records; `flush` (and `close`) make them durable.
   */
  recordUse(u: KeyUsage): Promise<void>
  /** Makes buffered usage records durable. */
  flush(): Promise<void>
  /** Flushes and releases resources (connections, timers). */
  close(): Promise<void>
}

export interface MutateOptions {
  /** The ids this mutation will read or write (see `KeyRepository.mutate`). */
  ids?: readonly string[]
}

export interface KeyTx {
  get(id: string): KeyEntry | undefined
  has(id: string): boolean
  all(): KeyEntry[]
  /** Upserts an entry (a copy is stored; later edits to the object have no effect). */
  put(entry: KeyEntry): void
}

/** Where JWT signing secrets live, sealed by the master key (or encrypted at rest in PostgreSQL). */
export interface SigningKeyStore {
  /** Returns the signing secret for a key entry, creating it on first use. */
  getOrCreate(keyId: string): Promise<Uint8Array>
  get(keyId: string): Promise<Uint8Array | undefined>
}

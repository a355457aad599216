import type { DotenvDocument } from './dotenv-parse.js'

/**
 * What a store can do, as data (the engine and the use cases decide from it, never from `kind`).
 * Optional fields default to the plain-store answer given in their comment.
 */
export interface StoreCapabilities {
  delete: boolean
  versions: boolean
  list: boolean
  /**
   * Values can be read back (default true). A write-only store (GitHub Actions secrets, Vercel
   * `sensitive` variables) answers `get`/`getAll` with WRITE_ONLY; `describe()` tells what it
   * holds, and `holds()` compares against the fingerprint rekey kept of what it wrote.
   */
  readable?: boolean
  /** Changes take effect only after a deploy (Vercel, Render): `deploy()` exists (default false). */
  deploy?: boolean
  /**
   * `apply` is one atomic write at the vendor (default true). When false, the adapter undoes the
   * keys it already changed if a later one fails, and throws PARTIAL_FAILURE naming the keys it
   * could not put back (a write-only store cannot put back a value it never read).
   */
  atomic?: boolean
}

/** One variable as a store describes it: never its value. */
export interface StoredKeyMeta {
  name: string
  /**
   * rekey wrote it: marked at the vendor (Vault custom_metadata, SSM tag, 1Password section) or
   * recorded in rekey's own ownership ledger. `sync --allow-delete` removes only managed keys.
   */
  managed: boolean
  /** The vendor's version of the variable, when it keeps one. */
  version?: number
  /** When the vendor last changed it (ISO 8601), when it says. */
  updatedAt?: string
  /**
   * For write-only stores: whether the value changed at the vendor since rekey wrote it (the
   * vendor's updated_at differs from the one recorded with rekey's fingerprint). Undefined when
   * unknown or not applicable.
   */
  drifted?: boolean
}

/** Progress of a long store operation (a deploy, many writes), for the command's progress line. */
export type StoreProgress = (done: number, total: number, label: string) => void

/**
 * Where one environment's variables live: a .env file (plain or with per-value encryption), the
 * local-file secret store, PostgreSQL, or a vendor store (Vault KV v2, AWS SSM, Doppler,
 * 1Password Connect, GitHub Actions secrets, Vercel, Render). The same contract suite
 * (`secret-store.contract.ts`) runs against every implementation.
 */
export interface SecretStore {
  readonly kind: string
  readonly capabilities: StoreCapabilities
  list(prefix?: string): Promise<string[]>
  get(name: string): Promise<string | undefined>
  /** All variables at once, in file order for files. */
  getAll(): Promise<Map<string, string>>
  /** Applies sets and deletes in one write (see `capabilities.atomic` for stores that cannot). */
  apply(changes: { set?: Record<string, string>; unset?: string[] }, o?: { onProgress?: StoreProgress }): Promise<void>
  /** Every variable's metadata, with ownership (vendor stores implement it). */
  describe?(): Promise<StoredKeyMeta[]>
  /**
   * Whether the store holds exactly `value` under `name`: a constant-time read-back for readable
   * stores, the fingerprint rekey recorded at its last write (and no change at the vendor since)
   * for write-only ones.
   */
  holds?(name: string, value: string): Promise<boolean>
  /** Applies the written changes where the vendor needs a deploy, and waits until it is live. */
  deploy?(o?: { onProgress?: StoreProgress }): Promise<{ id: string; url?: string }>
  /** Releases connections (HTTP agents, SDK clients). */
  close?(): Promise<void>
}

/**
 * rekey's own record of what it wrote into stores that cannot mark ownership or be read back:
 * a keyed fingerprint (HMAC, never the value) and the vendor's stamp (updated_at or version)
 * seen right after the write. `place` names the store and the environment in it.
 */
export interface OwnershipLedger {
  read(place: string): Promise<Map<string, LedgerEntry>>
  /** Merges changes (null removes an entry) atomically under a cross-process lock. */
  update(place: string, changes: ReadonlyMap<string, LedgerEntry | null>): Promise<void>
}

export interface LedgerEntry {
  /** `fingerprint(value)`: HMAC-SHA256 under a key derived from the master key, hex. */
  fp: string
  /** The vendor's updated_at / version right after rekey's write, when it tells. */
  stamp: string | null
  /** When rekey wrote it (ISO 8601). */
  at: string
}

/** Keyed fingerprints of values (HMAC-SHA256 hex): comparable, and useless for recovering a value. */
export interface Fingerprinter {
  fingerprint(value: string): string
}

/** A .env file as envault names it: its absolute path and how users know it (`.env.prod`). */
export interface EnvFileRef {
  path: string
  what: string
}

/** A .env file read and parsed (an absent file reads as empty, with `exists: false`). */
export interface LoadedEnvFile extends EnvFileRef {
  exists: boolean
  doc: DotenvDocument
  /** The bytes as read ('' when the file does not exist). */
  text: string
}

export interface EnvWrite {
  path: string
  text: string
}

/**
 * Reads and writes .env files for the envault use cases. `commit` locks the files, hands them to
 * `fn` and writes what it returns all-or-nothing, calling `beforeCommit` (the audit append) after
 * the new contents are safely on disk and before any file is replaced.
 */
export interface EnvFileGateway {
  read(ref: EnvFileRef, o: { allowMissing: boolean }): Promise<LoadedEnvFile>
  /** A cheap fingerprint (inode, size, mtime) that changes when the file does. */
  stamp(ref: EnvFileRef): Promise<string>
  commit<T>(refs: EnvFileRef[], fn: (files: LoadedEnvFile[]) => Promise<{ writes: EnvWrite[]; result: T; beforeCommit?: () => Promise<void> }>): Promise<T>
}

/** The master key for a project's encrypted .env values. */
export interface EnvKeyring {
  /** The 32-byte data key; `create` makes a new key file when there is none (encrypt only). */
  dataKey(o?: { create?: boolean }): Promise<Buffer>
}

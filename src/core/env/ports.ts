import type { DotenvDocument } from './dotenv-parse.js'

/**
 * Where one environment's variables live: a .env file (plain or with per-value encryption), the
 * local-file secret store, PostgreSQL, or (later) Vault, AWS SSM, Doppler, 1Password.
 * The same contract suite runs against every implementation.
 */
export interface SecretStore {
  readonly kind: string
  readonly capabilities: { delete: boolean; versions: boolean; list: boolean }
  list(prefix?: string): Promise<string[]>
  get(name: string): Promise<string | undefined>
  /** All variables at once, in file order for files. */
  getAll(): Promise<Map<string, string>>
  /** Applies sets and deletes in one atomic write (a failure leaves the store as it was). */
  apply(changes: { set?: Record<string, string>; unset?: string[] }): Promise<void>
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

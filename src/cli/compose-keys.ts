import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createKeysService, type KeysService } from '../app/keys-service.js'
import { parseMasterKeyMaterial } from '../core/crypto/kdf.js'
import type { AuditLog } from '../core/audit/audit-event.js'
import type { Clock, Random } from '../core/ports.js'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFileKeystore, keystorePaths, type FileKeystore } from '../adapters/file/keystore-file.js'
import { loadMasterKey } from '../adapters/file/master-key.js'

export const MASTER_KEY_ENV = 'APIAUTH_MASTER_KEY'

export interface OpenKeysOptions {
  /** The key directory (see resolveKeyDir). */
  keyDir: string
  /** Environment holding APIAUTH_MASTER_KEY. */
  env: Record<string, string | undefined>
  clock: Clock
  random: Random
  /** Actor of audit events. */
  actor: string
  /**
   * A read-only caller (list, show, verify…) does not create `master.key` when the store does
   * not exist yet; it sees an empty store instead.
   */
  readOnly?: boolean
  /**
   * `auto` (the default) selects PostgreSQL when REKEY_DATABASE_URL is set and the file keystore
   * otherwise; `file` always opens the key directory (db import reads it as its source).
   */
  backend?: 'auto' | 'file'
}

export interface KeysHandle {
  service: KeysService
  backend: 'file' | 'postgres'
  /** The file keystore; undefined on the PostgreSQL backend. */
  store: FileKeystore | undefined
  audit: AuditLog
  keyDir: string
  /** Flushes buffered usage records. Call before the process exits. */
  close(): Promise<void>
}

/** Paths of the files in a key directory. */
export function keyDirFiles(keyDir: string) {
  return { ...keystorePaths(keyDir), masterKey: join(keyDir, 'master.key'), audit: join(keyDir, 'audit.jsonl') }
}

/**
 * Composes the apiauth keys service on the embedded file backend: the master key from
 * APIAUTH_MASTER_KEY or `<keyDir>/master.key` (created 0600 on first use, only while no
 * keystore exists), the sealed keystore `<keyDir>/keystore.enc`, and the hash-chained audit log
 * `<keyDir>/audit.jsonl`.
 *
 * @example
 * const keys = await openKeysService({ keyDir, env: process.env, clock: systemClock, random: systemRandom, actor: 'rekey' })
 * try { const { key } = await keys.service.rotate(id, { graceMs: 3_600_000, trigger: 'auto' }) } finally { await keys.close() }
 */
export async function openKeysService(o: OpenKeysOptions): Promise<KeysHandle> {
  if ((o.backend ?? 'auto') === 'auto' && (o.env.REKEY_DATABASE_URL ?? '') !== '') return openPgKeys(o)
  const files = keyDirFiles(o.keyDir)
  const exists = existsSync(files.keystore) || existsSync(files.previous)
  const haveKey = (o.env[MASTER_KEY_ENV] ?? '') !== '' || existsSync(files.masterKey)
  const material =
    o.readOnly && !exists && !haveKey
      ? // Nothing to open and nothing will be written: an ephemeral key keeps reads side-effect free.
        parseMasterKeyMaterial(o.random.bytes(32).toString('hex'), 'ephemeral')
      : await loadMasterKey({ envVar: MASTER_KEY_ENV, env: o.env, keyFile: files.masterKey, create: !exists })
  const store = createFileKeystore({ dir: o.keyDir, material, random: o.random })
  const audit = createJsonlAuditLog({ path: files.audit, clock: o.clock, actor: o.actor })
  const service = createKeysService({ repo: store.repo, signing: store.signing, audit, clock: o.clock, random: o.random, actor: o.actor, recovery: store })
  return { service, backend: 'file', store, audit, keyDir: o.keyDir, close: () => store.repo.close() }
}

/** The same use cases over PostgreSQL (REKEY_DATABASE_URL): one shared store for a team. */
async function openPgKeys(o: OpenKeysOptions): Promise<KeysHandle> {
  const { databaseFromEnv, masterFromEnv, openPgBackend } = await import('../server/pg-backend.js')
  const db = databaseFromEnv({}, o.env)
  const master = await masterFromEnv({}, o.env, o.keyDir)
  const pg = await openPgBackend({ ...db, master, clock: o.clock, random: o.random, actor: o.actor, poolMax: 2 })
  return { service: pg.keysService(o.actor), backend: 'postgres', store: undefined, audit: pg.audit, keyDir: o.keyDir, close: () => pg.close() }
}

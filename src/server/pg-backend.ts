import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../core/errors.js'
import type { MasterKeyMaterial } from '../core/crypto/kdf.js'
import type { Clock, Random } from '../core/ports.js'
import { createKeysService, type KeysService } from '../app/keys-service.js'
import { loadMasterKey } from '../adapters/file/master-key.js'
import { createPgPool, redactUrl, schemaOf, type Pool } from '../adapters/postgres/db.js'
import { currentVersion, MIGRATIONS } from '../adapters/postgres/migrations.js'
import { loadKeyring, type Keyring } from '../adapters/postgres/keyring.js'
import { createPgKeyRepository, createPgSigningKeyStore, type PgKeyRepository } from '../adapters/postgres/key-repository.js'
import { createPgAuditLog } from '../adapters/postgres/audit-log.js'
import { createPgSecretStore, type VersionedSecretStore } from '../adapters/postgres/secret-store.js'
import { createPgTokenStore, type TokenStore } from '../adapters/postgres/token-store.js'
import type { AuditLog } from '../core/audit/audit-event.js'
import type { KeyRepository } from '../core/keys/ports.js'

export const DATABASE_URL_ENV = 'REKEY_DATABASE_URL'
export const DATABASE_SCHEMA_ENV = 'REKEY_DATABASE_SCHEMA'

/** The database URL and schema from flags or the environment; a clear error when absent. */
export function databaseFromEnv(opts: Record<string, unknown>, env: Record<string, string | undefined>): { url: string; schema: string } {
  const url = (typeof opts.databaseUrl === 'string' ? opts.databaseUrl : undefined) ?? env[DATABASE_URL_ENV]
  if (!url) throw new AppError('CONFIG_INVALID', `no database: set ${DATABASE_URL_ENV} (postgres://user@host:5432/db) or pass --database-url`)
  if (!/^postgres(ql)?:\/\//.test(url)) throw new AppError('CONFIG_INVALID', `${DATABASE_URL_ENV} must be a postgres:// URL`)
  const schema = (typeof opts.schema === 'string' ? opts.schema : undefined) ?? env[DATABASE_SCHEMA_ENV] ?? 'rekey'
  return { url, schema }
}

/**
 * The master key for the PostgreSQL backend: REKEY_MASTER_KEY, else APIAUTH_MASTER_KEY, else a
 * key file (--master-key-file, else <key dir>/master.key when it exists). Never created here:
 * the database's data key is wrapped by whatever key first set it up.
 */
export async function masterFromEnv(opts: Record<string, unknown>, env: Record<string, string | undefined>, keyDir?: string): Promise<MasterKeyMaterial> {
  for (const v of ['REKEY_MASTER_KEY', 'APIAUTH_MASTER_KEY']) {
    if ((env[v] ?? '') !== '') return loadMasterKey({ envVar: v, env, keyFile: '', create: false })
  }
  const file = typeof opts.masterKeyFile === 'string' ? opts.masterKeyFile : keyDir && existsSync(join(keyDir, 'master.key')) ? join(keyDir, 'master.key') : undefined
  if (!file) throw new AppError('MASTER_KEY_MISSING', 'no master key: set REKEY_MASTER_KEY (32 bytes as hex or base64, or a passphrase) or pass --master-key-file')
  return loadMasterKey({ envVar: 'REKEY_MASTER_KEY', env: {}, keyFile: file, create: false })
}

export interface PgBackend {
  pool: Pool
  keyring: Keyring
  repo: PgKeyRepository
  audit: AuditLog
  tokens: TokenStore
  secretStore(env: string): VersionedSecretStore
  signing: ReturnType<typeof createPgSigningKeyStore>
  /** The apiauth use cases over PostgreSQL; `repo` may be wrapped (the server's cache). */
  keysService(actor: string, repo?: KeyRepository): KeysService
  close(): Promise<void>
}

/** Opens every PostgreSQL port with the master key; refuses an unmigrated database. */
export async function openPgBackend(o: { url: string; schema: string; master: MasterKeyMaterial; clock: Clock; random: Random; actor: string; poolMax?: number }): Promise<PgBackend> {
  const pool = createPgPool({ url: o.url, schema: o.schema, max: o.poolMax ?? 10 })
  try {
    const v = await currentVersion(pool)
    const latest = Math.max(...MIGRATIONS.map((m) => m.version))
    if (v < latest) {
      throw new AppError('CONFIG_INVALID', `the database ${redactUrl(o.url)} (schema ${schemaOf(pool)}) is at migration ${v}, this version needs ${latest}`, {
        hint: 'run "rekey db migrate" (or start rekey serve with --migrate)',
      })
    }
    const keyring = await loadKeyring(pool, o.master, o.random)
    const repo = createPgKeyRepository(pool)
    const audit = createPgAuditLog(pool, { clock: o.clock, actor: o.actor })
    const signing = createPgSigningKeyStore(pool, keyring, o.random)
    return {
      pool,
      keyring,
      repo,
      audit,
      signing,
      tokens: createPgTokenStore(pool, { clock: o.clock, random: o.random }),
      secretStore: (env) => createPgSecretStore(pool, keyring, env),
      keysService: (actor, r) => createKeysService({ repo: r ?? repo, signing, audit, clock: o.clock, random: o.random, actor }),
      async close() {
        await repo.close().catch(() => undefined)
        await pool.end().catch(() => undefined)
      },
    }
  } catch (e) {
    await pool.end().catch(() => undefined)
    throw e
  }
}

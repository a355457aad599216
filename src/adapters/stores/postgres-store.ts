import type { StoreConfig } from '../../config/envault-config.js'
import type { Clock, Random } from '../../core/ports.js'
import type { VersionedSecretStore } from '../postgres/secret-store.js'

/** What an environment in a postgres store needs from the database. */
export interface PgStoreBackend {
  secretStore(env: string): VersionedSecretStore
}

/**
 * The database connections of one command run, one per (URL, schema), opened on first use and
 * shared by every environment in them. The PostgreSQL backend (pg, migrations check, envelope
 * keyring) is loaded only when a postgres store is actually used, so file-only runs stay fast.
 */
export interface PgStoreConnections {
  open(store: StoreConfig, env: Record<string, string | undefined>): Promise<PgStoreBackend>
  close(): Promise<void>
}

export function createPgStoreConnections(o: { clock: Clock; random: Random; actor: string }): PgStoreConnections {
  const open = new Map<string, Promise<{ secretStore(env: string): VersionedSecretStore; close(): Promise<void> }>>()
  return {
    async open(store, env) {
      const { databaseFromEnv, masterFromEnv, openPgBackend } = await import('../../server/pg-backend.js')
      const schemaOpt = typeof store.options.schema === 'string' && store.options.schema !== '' ? store.options.schema : undefined
      const db = databaseFromEnv(schemaOpt ? { schema: schemaOpt } : {}, env)
      const id = `${db.url}\n${db.schema}`
      let p = open.get(id)
      if (!p) {
        p = (async () => {
          // REKEY_MASTER_KEY (or APIAUTH_MASTER_KEY) unwraps the database's data key; the
          // key file fallback is the apiauth key directory's master.key, as for `rekey serve`.
          const keyDir = env.APIAUTH_KEY_DIR || (env.HOME ? `${env.HOME}/.apiauth` : undefined)
          const master = await masterFromEnv({}, env, keyDir)
          return openPgBackend({ ...db, master, clock: o.clock, random: o.random, actor: o.actor, poolMax: 2 })
        })()
        open.set(id, p)
        // A failed open is not cached, so the next use reports its own error.
        p.catch(() => open.delete(id))
      }
      return p
    },
    async close() {
      const all = [...open.values()]
      open.clear()
      await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()))
    },
  }
}

import type { SecretStore } from '../../core/env/ports.js'
import { AppError } from '../../core/errors.js'
import type { Keyring } from './keyring.js'
import { inTx, lockId, notifyChange, pgError, schemaOf, type Pool } from './db.js'

export interface SecretVersionInfo {
  version: number
  created_at: string
  deleted: boolean
}

/** A SecretStore with version history (PostgreSQL keeps every value it was given, sealed). */
export interface VersionedSecretStore extends SecretStore {
  versions(name: string): Promise<SecretVersionInfo[]>
  getVersion(name: string, version: number): Promise<string | undefined>
  /** The current version number of a variable, or 0 when absent. */
  currentVersion(name: string): Promise<number>
}

const aad = (env: string, name: string, version: number) => `rekey-pg|secret|${env}|${name}|${version}`

/**
 * One environment's variables in PostgreSQL. Every write adds a version (a deletion is a version
 * with no value), sealed with the data key in the application: the database only ever sees
 * ciphertext whose AAD binds it to its environment, name and version, so rows can't be swapped.
 */
export function createPgSecretStore(pool: Pool, keyring: Keyring, env: string): VersionedSecretStore {
  const schema = schemaOf(pool)
  const openRow = (name: string, r: { version: number; enc: Buffer | null; data_key_id: number | null }) =>
    r.enc === null || r.data_key_id === null ? undefined : keyring.open(r.data_key_id, r.enc, aad(env, name, r.version), `secret ${name} in ${env}`)

  const current = `SELECT DISTINCT ON (name) name, version, enc, data_key_id FROM secret_versions WHERE env = $1`
  return {
    kind: 'postgres',
    capabilities: { delete: true, versions: true, list: true },
    async list(prefix) {
      try {
        const r = await pool.query<{ name: string; enc: Buffer | null }>(
          `SELECT name, enc FROM (${current} ${prefix ? 'AND starts_with(name, $2)' : ''} ORDER BY name, version DESC) c WHERE enc IS NOT NULL ORDER BY name`,
          prefix ? [env, prefix] : [env],
        )
        return r.rows.map((x) => x.name)
      } catch (e) {
        throw pgError('list secrets', e)
      }
    },
    async get(name) {
      let row
      try {
        row = (await pool.query<{ version: number; enc: Buffer | null; data_key_id: number | null }>(
          'SELECT version, enc, data_key_id FROM secret_versions WHERE env = $1 AND name = $2 ORDER BY version DESC LIMIT 1',
          [env, name],
        )).rows[0]
      } catch (e) {
        throw pgError('read secret', e)
      }
      return row ? openRow(name, row) : undefined
    },
    async getAll() {
      let rows
      try {
        rows = (await pool.query<{ name: string; version: number; enc: Buffer | null; data_key_id: number | null }>(`${current} ORDER BY name, version DESC`, [env])).rows
      } catch (e) {
        throw pgError('read secrets', e)
      }
      const out = new Map<string, string>()
      for (const r of rows) {
        const v = openRow(r.name, r)
        if (v !== undefined) out.set(r.name, v)
      }
      return out
    },
    async apply(changes) {
      const sets = Object.entries(changes.set ?? {})
      const unsets = changes.unset ?? []
      if (sets.length === 0 && unsets.length === 0) return
      try {
        await inTx(pool, async (c) => {
          await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(schema, `env:${env}`)])
          const names = [...new Set([...sets.map(([n]) => n), ...unsets])]
          const cur = await c.query<{ name: string; version: number; enc: Buffer | null }>(
            'SELECT DISTINCT ON (name) name, version, enc FROM secret_versions WHERE env = $1 AND name = ANY($2) ORDER BY name, version DESC',
            [env, names],
          )
          const latest = new Map(cur.rows.map((r) => [r.name, r]))
          for (const [name, value] of sets) {
            const v = (latest.get(name)?.version ?? 0) + 1
            const s = keyring.seal(value, aad(env, name, v))
            await c.query('INSERT INTO secret_versions (env, name, version, enc, data_key_id) VALUES ($1, $2, $3, $4, $5)', [env, name, v, s.enc, s.dataKeyId])
            latest.set(name, { name, version: v, enc: s.enc })
          }
          for (const name of unsets) {
            const l = latest.get(name)
            if (!l || l.enc === null) continue
            await c.query('INSERT INTO secret_versions (env, name, version, enc, data_key_id) VALUES ($1, $2, $3, NULL, NULL)', [env, name, l.version + 1])
          }
          await notifyChange(c, schema, { kind: 'secret', id: env })
        })
      } catch (e) {
        throw pgError('write secrets', e)
      }
    },
    async versions(name) {
      try {
        const r = await pool.query<{ version: number; created_at: Date; deleted: boolean }>(
          'SELECT version, created_at, enc IS NULL AS deleted FROM secret_versions WHERE env = $1 AND name = $2 ORDER BY version',
          [env, name],
        )
        return r.rows.map((x) => ({ version: x.version, created_at: x.created_at.toISOString(), deleted: x.deleted }))
      } catch (e) {
        throw pgError('read secret versions', e)
      }
    },
    async getVersion(name, version) {
      if (!Number.isInteger(version) || version < 1) throw new AppError('USAGE', `invalid version ${String(version)}`)
      let row
      try {
        row = (await pool.query<{ version: number; enc: Buffer | null; data_key_id: number | null }>(
          'SELECT version, enc, data_key_id FROM secret_versions WHERE env = $1 AND name = $2 AND version = $3',
          [env, name, version],
        )).rows[0]
      } catch (e) {
        throw pgError('read secret version', e)
      }
      return row ? openRow(name, row) : undefined
    },
    async currentVersion(name) {
      try {
        const r = await pool.query<{ version: number; enc: Buffer | null }>('SELECT version, enc FROM secret_versions WHERE env = $1 AND name = $2 ORDER BY version DESC LIMIT 1', [env, name])
        const row = r.rows[0]
        return row && row.enc !== null ? row.version : 0
      } catch (e) {
        throw pgError('read secret version', e)
      }
    },
  }
}

/** The environments that hold at least one variable. */
export async function listPgEnvironments(pool: Pool): Promise<string[]> {
  try {
    return (await pool.query<{ env: string }>('SELECT DISTINCT env FROM secret_versions ORDER BY env')).rows.map((r) => r.env)
  } catch (e) {
    throw pgError('list environments', e)
  }
}

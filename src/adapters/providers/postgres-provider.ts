import pg from 'pg'
import { AdapterError, AppError } from '../../core/errors.js'
import type { Clock } from '../../core/ports.js'
import type { CreateInput, Credential, CredentialProvider } from '../../core/rotation/ports.js'

/**
 * PostgreSQL role passwords with two alternating roles (app_a/app_b), as AWS's alternating-users
 * rotation: a role has one password, so the new password goes to the role NOT in use, and the
 * consumers move to it; the old role keeps working until it is revoked (NOLOGIN). The value
 * written to targets is a connection URL for the role. The roles must exist with the same
 * grants; the admin connection needs CREATEROLE (or superuser).
 *
 * Usage: sessions of the role in pg_stat_activity (a role with a session is in use now).
 */
export interface SqlRoleProviderOptions {
  adminUrl: string
  roles: readonly [string, string]
  clock: Clock
}

export function roleFromUrl(value: string, kind: string): { user: string; url: URL } {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new AppError('CONFLICT', `${kind}: the value in the targets is not a connection URL`)
  }
  return { user: decodeURIComponent(url.username), url }
}

export function withCredentials(base: string, user: string, password: string): string {
  const u = new URL(base)
  u.username = encodeURIComponent(user)
  u.password = encodeURIComponent(password)
  return u.toString()
}

function pgReason(e: unknown): string {
  const code = (e as { code?: string }).code
  if (code === '28P01' || code === '28000') return `authentication failed (${code})`
  if (code === 'ECONNREFUSED') return 'connection refused'
  return code ? `error ${code}` : 'connection failed'
}

export function createPostgresProvider(o: SqlRoleProviderOptions): CredentialProvider {
  const [a, b] = o.roles
  let pool: pg.Pool | undefined
  const admin = () => (pool ??= new pg.Pool({ connectionString: o.adminUrl, max: 2, connectionTimeoutMillis: 10_000 }))
  const q = async (sql: string, params: unknown[] = [], op = 'query') => {
    try {
      return await admin().query(sql, params)
    } catch (e) {
      throw new AdapterError('postgres', op, pgReason(e), { retryable: true })
    }
  }
  const ident = (r: string) => `"${r.replace(/"/g, '""')}"`
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`
  const other = (role: string | undefined) => (role === a ? b : a)
  return {
    kind: 'postgres',
    capabilities: { dualCredential: true, usage: true, acceptsValue: true },
    async identify(value) {
      if (value === null) return null
      const { user } = roleFromUrl(value, 'postgres')
      if (user !== a && user !== b) throw new AppError('CONFLICT', `postgres: the targets use role ${user}, not one of ${a}/${b}`)
      return { id: user, value }
    },
    async create(input: CreateInput) {
      const role = other(input.current?.id)
      // ALTER ROLE takes no bind parameters: the password is a quoted literal, never logged.
      await q(`ALTER ROLE ${ident(role)} WITH LOGIN PASSWORD ${lit(input.proposed)}`, [], 'create')
      return { id: role, value: withCredentials(input.current?.value ?? o.adminUrl, role, input.proposed) }
    },
    async test(c) {
      const client = new pg.Client({ connectionString: c.value, connectionTimeoutMillis: 10_000 })
      try {
        await client.connect()
        const r = await client.query<{ u: string }>('SELECT current_user AS u')
        return r.rows[0]?.u === c.id ? { ok: true } : { ok: false, reason: 'connected as another role' }
      } catch (e) {
        return { ok: false, reason: pgReason(e) }
      } finally {
        await client.end().catch(() => undefined)
      }
    },
    async promote() {},
    async revoke(c) {
      await q(`ALTER ROLE ${ident(c.id)} WITH NOLOGIN PASSWORD NULL`, [], 'revoke')
    },
    async reinstate(previous) {
      // The previous role was never changed; make sure it can still log in.
      await q(`ALTER ROLE ${ident(previous.id)} WITH LOGIN`, [], 'reinstate')
    },
    async discard(input) {
      await q(`ALTER ROLE ${ident(other(input.current?.id))} WITH NOLOGIN PASSWORD NULL`, [], 'discard')
    },
    async usage(c) {
      const r = await q('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()', [c.id], 'usage')
      return { lastUsedAt: (r.rows[0] as { n: number }).n > 0 ? o.clock.now() : null }
    },
    async close() {
      await pool?.end().catch(() => undefined)
      pool = undefined
    },
  }
}

export type { Credential }

import mysql from 'mysql2/promise'
import { AdapterError, AppError } from '../../core/errors.js'
import type { CreateInput, CredentialProvider } from '../../core/rotation/ports.js'
import { roleFromUrl, withCredentials, type SqlRoleProviderOptions } from './postgres-provider.js'

/**
 * MariaDB/MySQL user passwords with two alternating users, as the postgres provider. Revocation
 * locks the account (ACCOUNT LOCK) and sets an unknown password; usage is the user's sessions in
 * information_schema.PROCESSLIST.
 */
function myReason(e: unknown): string {
  const code = (e as { code?: string }).code
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_ACCOUNT_HAS_BEEN_LOCKED') return `authentication failed (${code})`
  return code ? `error ${code}` : 'connection failed'
}

export function createMariadbProvider(o: SqlRoleProviderOptions & { host?: string; random: { bytes(n: number): Buffer } }): CredentialProvider {
  const [a, b] = o.roles
  const host = o.host ?? '%'
  let pool: mysql.Pool | undefined
  const admin = () => (pool ??= mysql.createPool({ uri: o.adminUrl, connectionLimit: 2, connectTimeout: 10_000 }))
  const q = async (sql: string, params: unknown[], op: string) => {
    try {
      const [rows] = await admin().query(sql, params)
      return rows
    } catch (e) {
      throw new AdapterError('mariadb', op, myReason(e), { retryable: true })
    }
  }
  const other = (u: string | undefined) => (u === a ? b : a)
  const lock = (u: string, op: string) => q('ALTER USER ?@? IDENTIFIED BY ? ACCOUNT LOCK', [u, host, o.random.bytes(24).toString('base64url')], op)
  return {
    kind: 'mariadb',
    capabilities: { dualCredential: true, usage: true, acceptsValue: true },
    async identify(value) {
      if (value === null) return null
      const { user } = roleFromUrl(value, 'mariadb')
      if (user !== a && user !== b) throw new AppError('CONFLICT', `mariadb: the targets use user ${user}, not one of ${a}/${b}`)
      return { id: user, value }
    },
    async create(input: CreateInput) {
      const user = other(input.current?.id)
      await q('ALTER USER ?@? IDENTIFIED BY ? ACCOUNT UNLOCK', [user, host, input.proposed], 'create')
      return { id: user, value: withCredentials(input.current?.value ?? o.adminUrl, user, input.proposed) }
    },
    async test(c) {
      let conn: mysql.Connection | undefined
      try {
        conn = await mysql.createConnection({ uri: c.value, connectTimeout: 10_000 })
        const [rows] = await conn.query('SELECT CURRENT_USER() AS u')
        const u = String((rows as { u: string }[])[0]?.u ?? '')
        return u.startsWith(`${c.id}@`) ? { ok: true } : { ok: false, reason: 'connected as another user' }
      } catch (e) {
        return { ok: false, reason: myReason(e) }
      } finally {
        await conn?.end().catch(() => undefined)
      }
    },
    async promote() {},
    async revoke(c) {
      await lock(c.id, 'revoke')
    },
    async reinstate(previous) {
      await q('ALTER USER ?@? ACCOUNT UNLOCK', [previous.id, host], 'reinstate')
    },
    async discard(input) {
      await lock(other(input.current?.id), 'discard')
    },
    async usage(c) {
      const rows = (await q('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()', [c.id], 'usage')) as { n: number }[]
      return { lastUsedAt: Number(rows[0]?.n ?? 0) > 0 ? o.clock.now() : null }
    },
    async close() {
      await pool?.end().catch(() => undefined)
      pool = undefined
    },
  }
}

import pg from 'pg'
import { createHash } from 'node:crypto'
import { AdapterError, AppError } from '../../core/errors.js'

export type Pool = pg.Pool
export type PoolClient = pg.PoolClient

export interface PgOptions {
  /** postgres://user@host:port/db (REKEY_DATABASE_URL). */
  url: string
  /** The schema holding rekey's tables (REKEY_DATABASE_SCHEMA, default "rekey"). */
  schema?: string
  max?: number
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_RE.test(schema)) {
    throw new AppError('CONFIG_INVALID', `invalid database schema name "${schema.slice(0, 70)}"`, { hint: 'use lowercase letters, digits and _' })
  }
  return schema
}

/** Describes the URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparseable database URL)'
  }
}

/**
 * A connection pool whose connections all use `schema` (search_path), so several test runs or
 * tenants can share one database.
 */
export function createPgPool(o: PgOptions): Pool {
  const schema = checkSchemaName(o.schema ?? 'rekey')
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.max ?? 10,
    options: `-c search_path=${schema}`,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  })
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined)
  ;(pool as Pool & { rekeySchema?: string }).rekeySchema = schema
  return pool
}

export function schemaOf(pool: Pool): string {
  return (pool as Pool & { rekeySchema?: string }).rekeySchema ?? 'rekey'
}

/** Runs fn inside BEGIN/COMMIT on one client; rolls back when fn throws. */
export async function inTx<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await connect(pool)
  try {
    await c.query('BEGIN')
    const r = await fn(c)
    await c.query('COMMIT')
    return r
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined)
    throw e
  } finally {
    c.release()
  }
}

export async function connect(pool: Pool): Promise<PoolClient> {
  try {
    return await pool.connect()
  } catch (cause) {
    throw new AdapterError('postgres', 'connect', 'cannot connect to the database', { cause, retryable: true })
  }
}

/** A stable 64-bit advisory lock id for a named resource within a schema. */
export function lockId(schema: string, resource: string): string {
  const h = createHash('sha256').update(`${schema}\u0000${resource}`).digest()
  return h.readBigInt64BE(0).toString()
}

/** The NOTIFY channel of a schema (channels are database-wide, so the schema is part of it). */
export function channelOf(schema: string): string {
  return `rekey_ev_${schema}`.slice(0, 63)
}

export type ChangeKind = 'key' | 'secret' | 'token' | 'datakey'
export interface ChangeEvent {
  kind: ChangeKind
  id: string
}

/** Queues a change notification; delivered to every listener when the transaction commits. */
export async function notifyChange(c: Pick<PoolClient, 'query'>, schema: string, ev: ChangeEvent): Promise<void> {
  await c.query('SELECT pg_notify($1, $2)', [channelOf(schema), JSON.stringify(ev)])
}

/** Wraps a driver error without echoing its text (which may hold bound parameters) to clients. */
export function pgError(operation: string, cause: unknown): Error {
  if (cause instanceof AppError) return cause
  if (!isDriverError(cause)) return cause instanceof Error ? cause : new AppError('INTERNAL', String(cause))
  const code = (cause as { code?: string } | undefined)?.code
  const retryable = code === undefined || code.startsWith('08') || code === '57P01' || code === '40001' || code === '40P01'
  return new AdapterError('postgres', operation, `database operation failed${code ? ` (SQLSTATE ${code})` : ''}`, { cause, retryable })
}

/** Errors from the driver or the connection, as opposed to errors thrown by caller code. */
function isDriverError(e: unknown): boolean {
  if (e instanceof pg.DatabaseError) return true
  const code = (e as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && /^(E[A-Z]+|[0-9A-Z]{5})$/.test(code)) return true
  const msg = e instanceof Error ? e.message : ''
  return /Connection terminated|connection|timeout exceeded when trying to connect|Client has encountered/i.test(msg)
}

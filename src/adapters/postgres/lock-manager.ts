import { AppError } from '../../core/errors.js'
import type { LockManager } from '../../core/ports.js'
import { connect, lockId, pgError, schemaOf, type Pool } from './db.js'

export interface PgLockManager extends LockManager {
  /** Runs fn only if no other process holds the lock; returns `{ ran: false }` otherwise. */
  tryWithLock<T>(resource: string, fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>
}

/**
 * Cross-instance locks from PostgreSQL session advisory locks. The lock lives as long as the
 * holding connection: if an instance dies, PostgreSQL drops its connection and the lock with it,
 * so another instance can take over the work (no stale lock files).
 */
export function createPgLockManager(pool: Pool, o: { waitMs?: number } = {}): PgLockManager {
  const schema = schemaOf(pool)
  const waitMs = o.waitMs ?? 30_000
  const hold = async <T>(resource: string, fn: () => Promise<T>, blocking: boolean): Promise<{ ran: true; value: T } | { ran: false }> => {
    const c = await connect(pool)
    const id = lockId(schema, resource)
    let locked = false
    try {
      if (blocking) {
        const deadline = Date.now() + waitMs
        while (!locked) {
          locked = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [id])).rows[0]?.ok === true
          if (locked) break
          if (Date.now() > deadline) throw new AppError('STORE_LOCKED', `${resource} is locked by another process`, { retryable: true })
          await new Promise((r) => setTimeout(r, 50))
        }
      } else {
        locked = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [id])).rows[0]?.ok === true
        if (!locked) return { ran: false }
      }
      return { ran: true, value: await fn() }
    } catch (e) {
      throw e instanceof AppError ? e : pgError('lock', e)
    } finally {
      if (locked) await c.query('SELECT pg_advisory_unlock($1)', [id]).catch(() => undefined)
      c.release()
    }
  }
  return {
    async withLock(resource, fn) {
      const r = await hold(resource, fn, true)
      if (!r.ran) throw new AppError('STORE_LOCKED', `${resource} is locked by another process`)
      return r.value
    },
    tryWithLock: (resource, fn) => hold(resource, fn, false),
  }
}

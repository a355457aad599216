import { randomBytes } from 'node:crypto'
import type { AuditEvent, AuditEventInput, AuditLog, AuditQuery } from '../../core/audit/audit-event.js'
import { GENESIS_HASH, chainEvent, verifyChain } from '../../core/audit/hash-chain.js'
import { AppError } from '../../core/errors.js'
import type { Clock } from '../../core/ports.js'
import { inTx, lockId, schemaOf, pgError, type Pool } from './db.js'

/**
 * The hash-chained audit log in PostgreSQL. Appends from every instance are serialised by an
 * advisory lock so the chain has one order; the event JSON is stored as hashed, so `verify`
 * recomputes exactly what the file log would.
 */
export function createPgAuditLog(pool: Pool, o: { clock: Clock; actor: string }): AuditLog & { readPage(q: AuditQuery & { limit?: number; afterSeq?: number }): Promise<AuditEvent[]> } {
  const schema = schemaOf(pool)
  const query = async (q: AuditQuery & { limit?: number; afterSeq?: number } = {}): Promise<AuditEvent[]> => {
    const where: string[] = []
    const args: unknown[] = []
    const add = (sql: string, v: unknown) => {
      args.push(v)
      where.push(sql.replace('?', `$${args.length}`))
    }
    if (q.since) add('ts >= ?', q.since)
    if (q.action) add("action ILIKE '%' || ? || '%'", q.action.replace(/[\\%_]/g, (c) => `\\${c}`))
    if (q.env) add('env = ?', q.env)
    if (q.target) add('target = ?', q.target)
    if (q.afterSeq !== undefined) add('seq > ?', q.afterSeq)
    let sql = `SELECT event FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`
    if (q.limit !== undefined) {
      args.push(q.limit)
      sql += ` LIMIT $${args.length}`
    }
    try {
      return (await pool.query<{ event: AuditEvent }>(sql, args)).rows.map((r) => r.event)
    } catch (e) {
      throw pgError('read audit log', e)
    }
  }
  return {
    async append(input: AuditEventInput): Promise<AuditEvent> {
      try {
        return await inTx(pool, async (c) => {
          await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(schema, 'audit')])
          const last = (await c.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')).rows[0]
          const ev = chainEvent(input, {
            seq: last ? Number(last.seq) + 1 : 1,
            prev: last?.hash ?? GENESIS_HASH,
            id: `evt_${randomBytes(8).toString('hex')}`,
            ts: o.clock.now().toISOString(),
            actor: o.actor,
          })
          await c.query('INSERT INTO audit_events (seq, id, ts, action, target, env, event, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [
            ev.seq,
            ev.id,
            ev.ts,
            ev.action,
            ev.target,
            ev.env ?? null,
            JSON.stringify(ev),
            ev.hash,
          ])
          return ev
        })
      } catch (cause) {
        throw new AppError('AUDIT_WRITE_FAILED', 'cannot write the audit log in the database; the change was not made', { cause, retryable: true })
      }
    },
    read: (q) => query(q),
    readPage: (q) => query(q),
    async verify() {
      return verifyChain(await query())
    },
  }
}

import { randomBytes } from 'node:crypto'
import { AppError } from '../../core/errors.js'
import type { DueEntry, RotationJournal, SecretState } from '../../core/rotation/ports.js'
import type { RotationRun } from '../../core/rotation/rotation-state.js'
import { connect, inTx, lockId, pgError, schemaOf, type Pool } from './db.js'

/**
 * The rotation journal in PostgreSQL, shared by every `rekey serve` / `rekey tick` instance.
 *
 * The per-secret lock is a session advisory lock held on a dedicated connection for as long as
 * the run step executes: a second instance gets IN_PROGRESS naming the holder's run at once, and
 * when the holder dies (kill -9, lost host) PostgreSQL ends its session and releases the lock,
 * so another instance's `tick`/`resume` takes the run over: no lock file to break by hand.
 */
export function createPgJournal(pool: Pool, o: { instance?: string } = {}): RotationJournal {
  const schema = schemaOf(pool)
  const instance = o.instance ?? `inst_${randomBytes(4).toString('hex')}`
  const q = async <R extends object>(op: string, sql: string, args: unknown[] = []) => {
    try {
      return (await pool.query<R>(sql, args)).rows
    } catch (e) {
      throw pgError(op, e)
    }
  }
  return {
    async getRun(id) {
      if (!/^rot_[0-9a-f]{8,32}$/.test(id)) return undefined
      return (await q<{ doc: RotationRun }>('read run', 'SELECT doc FROM rotation_runs WHERE id = $1', [id]))[0]?.doc
    },
    async saveRun(run) {
      await q(
        'write run',
        `INSERT INTO rotation_runs (id, secret, state, doc, owner, heartbeat_at, updated_at) VALUES ($1, $2, $3, $4, $5, now(), now())
         ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, doc = EXCLUDED.doc, owner = EXCLUDED.owner, heartbeat_at = now(), updated_at = now()`,
        [run.id, run.secret, run.state, JSON.stringify(run), instance],
      )
    },
    async listRuns(secret) {
      const rows = await q<{ doc: RotationRun }>(
        'list runs',
        `SELECT doc FROM rotation_runs ${secret === undefined ? '' : 'WHERE secret = $1'} ORDER BY doc->>'created_at', id`,
        secret === undefined ? [] : [secret],
      )
      return rows.map((r) => r.doc)
    },
    async getState(secret) {
      return (await q<{ doc: SecretState }>('read rotation state', 'SELECT doc FROM rotation_states WHERE secret = $1', [secret]))[0]?.doc
    },
    async putState(s) {
      await q('write rotation state', 'INSERT INTO rotation_states (secret, doc) VALUES ($1, $2) ON CONFLICT (secret) DO UPDATE SET doc = EXCLUDED.doc', [s.secret, JSON.stringify(s)])
    },
    async listStates() {
      return (await q<{ doc: SecretState }>('list rotation states', 'SELECT doc FROM rotation_states ORDER BY secret')).map((r) => r.doc)
    },
    async readDue() {
      const rows = await q<{ secret: string; at: string | null; fp: string; seen: string }>('read due-index', 'SELECT secret, at, fp, seen FROM rotation_due')
      return new Map(rows.map((r) => [r.secret, { at: r.at === null ? null : Number(r.at), fp: r.fp, seen: r.seen } satisfies DueEntry]))
    },
    async updateDue(changes) {
      if (changes.size === 0) return
      try {
        await inTx(pool, async (c) => {
          await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(schema, 'rotation_due')])
          for (const [secret, e] of changes) {
            if (e === null) await c.query('DELETE FROM rotation_due WHERE secret = $1', [secret])
            else
              await c.query('INSERT INTO rotation_due (secret, at, fp, seen) VALUES ($1, $2, $3, $4) ON CONFLICT (secret) DO UPDATE SET at = EXCLUDED.at, fp = EXCLUDED.fp, seen = EXCLUDED.seen', [
                secret,
                e.at,
                e.fp,
                e.seen,
              ])
          }
        })
      } catch (e) {
        throw pgError('write due-index', e)
      }
    },
    async withSecretLock(secret, runId, fn) {
      const c = await connect(pool)
      const id = lockId(schema, `rotation:${secret}`)
      let locked: boolean | undefined
      try {
        // The holder records its run just after taking the lock: a taker that arrives in between
        // looks again briefly (or takes the lock, if the holder is done by then) rather than
        // reporting an unknown run.
        for (let attempt = 0; ; attempt++) {
          locked = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [id])).rows[0]?.ok === true
          if (locked) break
          const holder = (await c.query<{ run_id: string; instance: string }>('SELECT run_id, instance FROM rotation_locks WHERE secret = $1', [secret])).rows[0]
          if (holder || attempt >= 20) {
            throw new AppError('IN_PROGRESS', `${secret}: in progress (run ${holder?.run_id ?? 'unknown'})`, {
              hint: `another rekey instance (${holder?.instance ?? 'unknown'}) is rotating it; wait for it, or check "rekey status"`,
            })
          }
          await new Promise((r) => setTimeout(r, 10))
        }
        await c.query(
          'INSERT INTO rotation_locks (secret, run_id, instance, taken_at) VALUES ($1, $2, $3, now()) ON CONFLICT (secret) DO UPDATE SET run_id = EXCLUDED.run_id, instance = EXCLUDED.instance, taken_at = now()',
          [secret, runId, instance],
        )
        return await fn()
      } catch (e) {
        throw e instanceof AppError ? e : pgError('rotation lock', e)
      } finally {
        if (locked) {
          await c.query('DELETE FROM rotation_locks WHERE secret = $1 AND run_id = $2', [secret, runId]).catch(() => undefined)
          await c.query('SELECT pg_advisory_unlock($1)', [id]).catch(() => undefined)
        }
        c.release()
      }
    },
  }
}

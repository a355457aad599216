import pg from 'pg'
import { describe, onTestFinished } from 'vitest'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { journalContract } from '../../core/rotation/journal.contract.js'
import { createPgPool, lockId } from './db.js'
import { createPgJournal } from './journal.js'
import { freshSchema } from './test-schema.js'

describe.skipIf(!(await serviceAvailable('postgres')))('PostgreSQL rotation journal (contract)', () => {
  journalContract('postgres', async () => {
    const s = await freshSchema(PG_URL)
    // A second instance: its own pool (its own connections) on the same schema.
    const other = createPgPool({ url: PG_URL, schema: s.schema, max: 8 })
    onTestFinished(async () => {
      await other.end().catch(() => undefined)
      await s.drop()
    })
    return {
      a: createPgJournal(s.pool, { instance: 'inst_a' }),
      b: createPgJournal(other, { instance: 'inst_b' }),
      async lockAndDie(secret, runId) {
        // A third instance takes the lock on its own connection, records itself, then dies.
        const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${s.schema}` })
        await c.connect()
        await c.query('SELECT pg_advisory_lock($1)', [lockId(s.schema, `rotation:${secret}`)])
        await c.query('INSERT INTO rotation_locks (secret, run_id, instance) VALUES ($1, $2, $3)', [secret, runId, 'inst_dead'])
        const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
        c.on('error', () => undefined)
        await s.pool.query('SELECT pg_terminate_backend($1)', [pid])
      },
    }
  })
})

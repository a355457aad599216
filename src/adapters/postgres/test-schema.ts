import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createPgPool, type Pool } from './db.js'
import { migrate } from './migrations.js'

/**
 * A fresh, migrated schema for one test (or one test file), dropped by the returned cleanup.
 * Used by the PostgreSQL integration tests so they can run in parallel on one database.
 */
export async function freshSchema(url: string, o: { migrate?: boolean } = {}): Promise<{ pool: Pool; schema: string; drop(): Promise<void> }> {
  const schema = `rk_t_${randomBytes(6).toString('hex')}`
  const pool = createPgPool({ url, schema, max: 8 })
  if (o.migrate !== false) await migrate(pool)
  return {
    pool,
    schema,
    async drop() {
      await pool.end().catch(() => undefined)
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      } finally {
        await c.end()
      }
    },
  }
}

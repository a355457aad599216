import type { CommandContext } from '../context.js'
import { createPgPool } from '../../adapters/postgres/db.js'
import { migrate } from '../../adapters/postgres/migrations.js'
import { databaseFromEnv } from '../../server/pg-backend.js'

/** `rekey db migrate`: applies pending migrations, each once, under an advisory lock. */
export async function dbMigrateCommand(ctx: CommandContext): Promise<number> {
  const { url, schema } = databaseFromEnv(ctx.opts, ctx.io.env)
  const pool = createPgPool({ url, schema, max: 1 })
  try {
    const r = await migrate(pool)
    if (ctx.out.json) ctx.out.data({ schema, applied: r.applied, current: r.current })
    else if (r.applied.length === 0) ctx.out.line(`✓ Database is up to date (schema ${schema}, migration ${r.current})`)
    else for (const a of r.applied) ctx.out.line(`✓ Applied migration ${a.version} (${a.name}) to schema ${schema}`)
    return 0
  } finally {
    await pool.end().catch(() => undefined)
  }
}

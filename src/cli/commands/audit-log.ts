import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createAuditService, toCsv, type AuditService } from '../../app/audit-service.js'
import type { AuditQuery } from '../../core/audit/audit-event.js'
import { usageError } from '../../core/errors.js'
import { parseSince } from '../../core/time/duration.js'
import { createJsonlAuditLog } from '../../adapters/file/audit-jsonl.js'
import type { CommandContext } from '../context.js'
import { resolveKeyDir } from '../key-dir.js'
import { safe } from '../output.js'

/** The envault helper's audit log, in the project directory. */
export const ENVAULT_AUDIT_FILE = '.envault-audit.log'

function sources(ctx: CommandContext): string[] {
  const files = [join(resolveKeyDir(ctx.opts, ctx.io.env, ctx.io.cwd), 'audit.jsonl'), join(ctx.io.cwd, ENVAULT_AUDIT_FILE)]
  return files.filter((f) => existsSync(f))
}

/**
 * The audit logs to read: the file logs (apiauth key directory, envault project), and with
 * REKEY_DATABASE_URL the database's chain too (where keys, secrets and rotations on PostgreSQL
 * write their events). Reading the database needs no master key: events hold no secret.
 */
async function open(ctx: CommandContext): Promise<{ svc: AuditService; files: string[]; close(): Promise<void> }> {
  const files = sources(ctx)
  const logs = files.map((f) => ({ name: f, log: createJsonlAuditLog({ path: f, clock: ctx.clock, actor: ctx.actor }) }))
  let close: () => Promise<void> = async () => undefined
  if ((ctx.io.env.REKEY_DATABASE_URL ?? '') !== '') {
    const [{ databaseFromEnv }, { createPgPool, redactUrl }, { createPgAuditLog }] = await Promise.all([import('../../server/pg-backend.js'), import('../../adapters/postgres/db.js'), import('../../adapters/postgres/audit-log.js')])
    const db = databaseFromEnv({}, ctx.io.env)
    const pool = createPgPool({ url: db.url, schema: db.schema, max: 2 })
    close = () => pool.end().catch(() => undefined)
    const name = `the database ${redactUrl(db.url)} (schema ${db.schema})`
    logs.push({ name, log: createPgAuditLog(pool, { clock: ctx.clock, actor: ctx.actor }) })
    files.push(name)
  }
  return { svc: createAuditService({ sources: logs }), files, close }
}

function query(ctx: CommandContext, opts: Record<string, unknown>): AuditQuery {
  const q: AuditQuery = {}
  if (typeof opts.since === 'string') q.since = parseSince(opts.since, ctx.clock.now())
  if (typeof opts.filter === 'string') q.action = opts.filter
  return q
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v))

/** Opens the audit logs, runs `fn`, and closes the database connection if one was opened. */
async function withAudit<T>(ctx: CommandContext, fn: (a: { svc: AuditService; files: string[] }) => Promise<T>): Promise<T> {
  const a = await open(ctx)
  try {
    return await fn(a)
  } finally {
    await a.close()
  }
}

/** `rekey audit log [--since] [--filter] [--json]`: one line per event, oldest first. */
export async function auditLogCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const q = query(ctx, opts)
  const events = await withAudit(ctx, ({ svc }) => svc.query(q))
  if (ctx.out.json) {
    ctx.out.data(events)
    return 0
  }
  if (events.length === 0) {
    ctx.out.line('No audit events.')
    return 0
  }
  for (const e of events) {
    const detail = Object.entries(e.detail)
      .filter(([, v]) => v !== null && v !== '')
      .map(([k, v]) => `${k}=${show(v)}`)
      .join(' ')
    const where = e.env === undefined ? e.target : `${e.target}@${e.env}`
    ctx.out.line(safe(`${e.ts}  ${e.action}  ${where}  by ${e.actor}  ${e.status}${detail === '' ? '' : `  ${detail}`}`))
  }
  return 0
}

/** `rekey audit export --format csv|json [--since] [--filter]`. */
export async function auditExportCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const format = typeof opts.format === 'string' ? opts.format : 'csv'
  if (format !== 'csv' && format !== 'json') throw usageError(`invalid --format "${format}": use csv or json`)
  const q = query(ctx, opts)
  return withAudit(ctx, async ({ svc }) => {
    if (format === 'json' || ctx.out.json) {
      ctx.out.data(await svc.query(q))
      return 0
    }
    ctx.io.stdout.write(toCsv(await svc.compliance(q)))
    return 0
  })
}

/** `rekey audit verify`: exit 0 when every chain is intact, 1 naming the file and record otherwise. */
export async function auditVerifyCommand(ctx: CommandContext): Promise<number> {
  const { results, files } = await withAudit(ctx, async ({ svc, files }) => ({ results: await svc.verify(), files }))
  const broken = results.filter((r) => !r.result.ok)
  if (ctx.out.json) {
    ctx.out.data({ ok: broken.length === 0, logs: results.map((r) => ({ file: r.source, ...r.result })) })
    return broken.length === 0 ? 0 : 1
  }
  if (files.length === 0) ctx.out.line('✓ No audit logs yet')
  for (const { source, result } of results) {
    if (result.ok) ctx.out.line(`${ctx.out.green('✓')} ${safe(source)}: ${result.count} events, chain intact`)
    else ctx.out.line(`${ctx.out.red('✗')} ${safe(source)}: chain broken at record ${result.brokenAt}: ${safe(result.reason)}`)
  }
  return broken.length === 0 ? 0 : 1
}

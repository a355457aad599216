import type { AuditEvent } from '../../core/audit/audit-event.js'
import { AUDIT_FILE } from '../../config/envault-config.js'
import { parseSince } from '../../core/time/duration.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { openFromContext } from './env-common.js'

function stamp(ts: string): string {
  return `[${ts.slice(0, 19).replace('T', ' ')}]`
}

/**
 * Seed 000's lines: `[2026-05-27 09:00:15] ROTATE STRIPE_API_KEY env=staging user=ci-bot`,
 * `SYNC staging → prod user=ci-bot` (one line per sync run, however many keys it changed),
 * `SET STRIPE_API_KEY env=ci value=*** user=ci-bot`.
 */
export function renderAuditLines(events: AuditEvent[]): string[] {
  const lines: string[] = []
  const syncOps = new Set<string>()
  for (const e of events) {
    const user = `user=${e.actor}`
    const env = e.env === undefined ? '' : ` env=${e.env}`
    const failed = e.status === 'failed' ? ' status=failed' : ''
    const verb = e.action.split('.').pop()!.toUpperCase()
    let body: string
    switch (e.action) {
      case 'secret.sync': {
        const op = String(e.detail.op ?? e.id)
        if (syncOps.has(op)) continue
        syncOps.add(op)
        body = `SYNC ${String(e.detail.from ?? '?')} → ${e.env ?? '?'} ${user}`
        break
      }
      case 'secret.set':
        body = `SET ${e.target}${env} value=*** ${user}`
        break
      case 'store.set':
      case 'store.delete':
        body = `STORE_${verb} ${e.target} store=${String(e.detail.store ?? '?')} ${user}`
        break
      case 'secret.read':
        body = `READ ${e.target}${env}${typeof e.detail.count === 'number' && e.detail.count > 1 ? ` count=${e.detail.count}` : ''} ${user}`
        break
      default:
        body = `${verb} ${e.target}${env} ${user}`
    }
    lines.push(`${stamp(e.ts)} ${safe(body)}${failed}`)
  }
  return lines
}

export async function auditLog(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const p = await openFromContext(ctx)
  try {
    if (opts.verify === true) {
      const r = await p.service.auditVerify()
      if (ctx.out.json) ctx.out.data(r)
      else ctx.out.line(r.ok ? `✓ ${AUDIT_FILE}: ${r.count} events, hash chain intact` : `✗ ${AUDIT_FILE}: chain broken at event ${r.brokenAt}: ${r.reason}`)
      return r.ok ? 0 : 1
    }
    const events = await p.service.auditEvents({
      ...(typeof opts.since === 'string' ? { since: parseSince(opts.since, ctx.clock.now()) } : {}),
      ...(typeof opts.filter === 'string' ? { action: opts.filter } : {}),
      ...(typeof opts.env === 'string' ? { env: opts.env } : {}),
      ...(typeof opts.key === 'string' ? { target: opts.key } : {}),
    })
    if (ctx.out.json) {
      ctx.out.data(events)
      return 0
    }
    const lines = renderAuditLines(events)
    if (lines.length === 0) ctx.out.note('no matching audit events')
    for (const l of lines) ctx.out.line(l)
    return 0
  } finally {
    await p.close()
  }
}

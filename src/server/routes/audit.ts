import { z } from 'zod'
import { AppError } from '../../core/errors.js'
import { parseSince } from '../../core/time/duration.js'
import type { AuditEvent } from '../../core/audit/audit-event.js'
import type { RouteEnv } from '../app.js'
import type { Route } from '../router.js'

const auditQuery = z.object({
  since: z.string().max(40).optional().describe('24h, 7d or an ISO time'),
  action: z.string().max(80).optional(),
  env: z.string().max(64).optional(),
  target: z.string().max(255).optional(),
  limit: z.coerce.number().int().positive().max(100_000).optional(),
})

/** RFC 4180 quoting; a leading = + - @ is prefixed so a spreadsheet won't run it as a formula. */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function auditCsv(events: readonly AuditEvent[]): string {
  const cols = ['seq', 'ts', 'actor', 'action', 'target', 'env', 'status', 'detail', 'hash'] as const
  const lines = [cols.join(',')]
  for (const e of events) lines.push(cols.map((c) => csvCell(e[c])).join(','))
  return lines.join('\r\n') + '\r\n'
}

export function auditRoutes({ deps }: RouteEnv): Route[] {
  const read = async (query: Record<string, unknown>) => {
    const q = query as z.infer<typeof auditQuery>
    let since: Date | undefined
    if (q.since) {
      try {
        since = parseSince(q.since, deps.clock.now())
      } catch {
        throw new AppError('USAGE', 'invalid since (use 24h, 7d or an ISO time)')
      }
    }
    return deps.audit.read({
      ...(since ? { since } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.env ? { env: q.env } : {}),
      ...(q.target ? { target: q.target } : {}),
      limit: q.limit ?? 1000,
    })
  }
  return [
    {
      method: 'GET',
      path: '/v1/audit',
      summary: 'Query the hash-chained audit log (details are masked to the last 4 characters at most).',
      tag: 'audit',
      scope: () => 'audit:read',
      query: auditQuery,
      async handler({ query }) {
        return { body: { events: await read(query) } }
      },
    },
    {
      method: 'GET',
      path: '/v1/audit/export',
      summary: 'Export the audit log as CSV (or JSON with ?format=json).',
      tag: 'audit',
      scope: () => 'audit:read',
      query: auditQuery.extend({ format: z.enum(['csv', 'json']).default('csv') }),
      async handler({ query }) {
        const events = await read({ limit: 100_000, ...query })
        if (query.format === 'json') return { body: events }
        return { raw: { contentType: 'text/csv; charset=utf-8', text: auditCsv(events) }, headers: { 'content-disposition': 'attachment; filename="rekey-audit.csv"' } }
      },
    },
  ]
}

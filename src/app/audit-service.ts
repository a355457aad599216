import type { AuditEvent, AuditLog, AuditQuery, AuditVerifyResult } from '../core/audit/audit-event.js'

/** One audit log to read, named by its file (or table) for messages. */
export interface AuditSource {
  name: string
  log: Pick<AuditLog, 'read' | 'verify'>
}

export type SourcedEvent = AuditEvent & { source: string }

/** One row of the compliance export (seed 004): who rotated what, when, old and new last 4. */
export interface ComplianceRow {
  timestamp: string
  secret: string
  target: string
  old_last4: string
  new_last4: string
  triggered_by: string
  status: string
  action: string
}

export const CSV_COLUMNS: readonly (keyof ComplianceRow)[] = ['timestamp', 'secret', 'target', 'old_last4', 'new_last4', 'triggered_by', 'status', 'action']

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '')

/**
 * A CSV field per RFC 4180 (quoted when it holds a comma, quote, CR or LF; quotes doubled),
 * with spreadsheet formulas neutralised: a field starting with `=`, `+`, `-`, `@`, tab or CR
 * gets a leading `'` so a spreadsheet shows it as text instead of running it.
 */
export function csvField(v: string): string {
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv(rows: readonly ComplianceRow[]): string {
  const lines = [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvField(r[c])).join(','))]
  return lines.join('\r\n') + '\r\n'
}

/**
 * Compliance rows for events. `old_last4` comes from the event, or for a rotation without it,
 * from the `new_last4` of the previous event on the same secret and target in the same log.
 * `triggered_by` is `auto` for the rotation engine, else `manual:<actor>`.
 */
export function complianceRows(events: readonly SourcedEvent[]): ComplianceRow[] {
  const lastNew = new Map<string, string>()
  return events.map((e) => {
    const k = `${e.source}\u0000${e.target}\u0000${e.env ?? ''}`
    const newL4 = text(e.detail.new_last4)
    let oldL4 = text(e.detail.old_last4)
    if (oldL4 === '' && /\.rotate$/.test(e.action)) oldL4 = lastNew.get(k) ?? ''
    if (newL4 !== '' && e.status === 'ok') lastNew.set(k, newL4)
    return {
      timestamp: e.ts,
      secret: e.target,
      target: text(e.env ?? e.detail.destination),
      old_last4: oldL4,
      new_last4: newL4,
      triggered_by: e.detail.trigger === 'auto' ? 'auto' : `manual:${e.actor}`,
      status: e.status === 'ok' ? 'success' : 'failed',
      action: e.action,
    }
  })
}

export interface AuditService {
  /** Events of every source matching `q`, merged by time (stable within a source). */
  query(q?: AuditQuery): Promise<SourcedEvent[]>
  /** Compliance rows; `old_last4` is derived over the full history, then filtered by `q`. */
  compliance(q?: AuditQuery): Promise<ComplianceRow[]>
  /** Checks every source's hash chain. */
  verify(): Promise<{ source: string; result: AuditVerifyResult }[]>
}

/** Reads and checks several hash-chained audit logs as one (apiauth's and envault's). */
export function createAuditService(d: { sources: readonly AuditSource[] }): AuditService {
  const merge = (lists: SourcedEvent[][]): SourcedEvent[] => {
    const all = lists.flatMap((l, si) => l.map((e, i) => ({ e, si, i })))
    all.sort((a, b) => a.e.ts.localeCompare(b.e.ts) || a.si - b.si || a.i - b.i)
    return all.map((x) => x.e)
  }
  const readAll = async (q?: AuditQuery) =>
    merge(await Promise.all(d.sources.map(async (s) => (await s.log.read(q)).map((e) => ({ ...e, source: s.name })))))

  return {
    query: (q) => readAll(q),
    async compliance(q = {}) {
      const { since, ...rest } = q
      const all = await readAll(rest)
      const rows = complianceRows(all)
      return since === undefined ? rows : rows.filter((r) => new Date(r.timestamp).getTime() >= since.getTime())
    },
    async verify() {
      return Promise.all(d.sources.map(async (s) => ({ source: s.name, result: await s.log.verify() })))
    },
  }
}

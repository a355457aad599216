import { sha256Hex } from '../crypto/hash.js'
import type { AuditEvent, AuditEventInput, AuditQuery, AuditVerifyResult } from './audit-event.js'

export const GENESIS_HASH = '0'.repeat(64)

/** JSON with object keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  const o = v as Record<string, unknown>
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
}

export function eventHash(e: Omit<AuditEvent, 'hash'>): string {
  return sha256Hex(canonicalJson(e))
}

/**
 * Checks that each event's hash matches its content and links to the one before, and that
 * sequence numbers have no gap: an edit, a deletion or a reordering is detected.
 */
export function verifyChain(events: readonly AuditEvent[]): AuditVerifyResult {
  let prev = GENESIS_HASH
  let expectedSeq = events[0]?.seq ?? 1
  for (const [i, e] of events.entries()) {
    const { hash, ...rest } = e
    if (e.seq !== expectedSeq) return { ok: false, count: events.length, brokenAt: i + 1, reason: `sequence gap: expected ${expectedSeq}, found ${e.seq}` }
    if (e.prev !== prev) return { ok: false, count: events.length, brokenAt: i + 1, reason: `event ${e.seq} does not link to the event before it` }
    if (eventHash(rest) !== hash) return { ok: false, count: events.length, brokenAt: i + 1, reason: `event ${e.seq} was altered (hash mismatch)` }
    prev = hash
    expectedSeq++
  }
  if ((events[0]?.seq ?? 1) !== 1) return { ok: false, count: events.length, brokenAt: 1, reason: 'the first events were deleted' }
  return { ok: true, count: events.length }
}

export function matchesQuery(e: AuditEvent, q: AuditQuery = {}): boolean {
  if (q.since && new Date(e.ts).getTime() < q.since.getTime()) return false
  if (q.action && !e.action.toLowerCase().includes(q.action.toLowerCase())) return false
  if (q.env && e.env !== q.env) return false
  if (q.target && e.target !== q.target) return false
  return true
}

/** Builds the next event of a chain from its input: fills defaults, links `prev` and seals the hash. */
export function chainEvent(
  input: AuditEventInput,
  at: { seq: number; prev: string; id: string; ts: string; actor: string },
): AuditEvent {
  const base: Omit<AuditEvent, 'hash'> = {
    seq: at.seq,
    id: at.id,
    ts: at.ts,
    actor: input.actor ?? at.actor,
    action: input.action,
    target: input.target,
    ...(input.env === undefined ? {} : { env: input.env }),
    status: input.status ?? 'ok',
    detail: input.detail ?? {},
    prev: at.prev,
  }
  return { ...base, hash: eventHash(base) }
}

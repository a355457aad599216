import type { Policy } from './policy.js'
import type { CredentialUsage, DueEntry, SecretState } from './ports.js'
import { nextScheduled, placeInWindow, schedulePeriodMs } from './schedule.js'

/**
 * Pure planning: when each secret is due, what `rekey tick` has to do now, and whether a
 * draining run may revoke its old credential. No I/O; the engine and the scheduler feed it.
 */
export interface DueInfo {
  due_at: Date
  notice_at: Date
  overdue_at: Date
}

/** When a policy is next due, from its last rotation (or when rekey first saw it), any postponement, and its window. */
export function computeDue(p: Policy, s: Pick<SecretState, 'last_rotated_at' | 'first_seen_at' | 'postponed_until'>): DueInfo | null {
  if (!p.schedule) return null
  const since = new Date(s.last_rotated_at ?? s.first_seen_at)
  let nominal = nextScheduled(p.schedule, since)
  if (s.postponed_until && new Date(s.postponed_until) > nominal) nominal = new Date(s.postponed_until)
  const due = placeInWindow(nominal, { ...(p.window ? { window: p.window } : {}), jitterMs: p.jitterMs, seed: p.name })
  const period = schedulePeriodMs(p.schedule, since)
  return {
    due_at: due,
    notice_at: new Date(due.getTime() - p.noticeMs),
    overdue_at: new Date(since.getTime() + Math.round(period * 1.5)),
  }
}

export type GateDecision =
  | { action: 'wait'; reason: string; until?: Date }
  | { action: 'revoke'; forced: boolean; reason: string }

/**
 * The revocation gate. After the grace period, the old credential is revoked once the new one
 * has been seen in use since promotion and the old one has been idle for `revoke.idle`; at
 * `revoke.max` it is revoked anyway (forced, with a "still in use" notification when it was).
 * An emergency rotation revokes at once. A provider that cannot report usage revokes at the
 * end of the grace period.
 */
export function evaluateRevokeGate(o: {
  now: Date
  promotedAt: Date
  policy: Pick<Policy, 'graceMs' | 'revokeIdleMs' | 'revokeMaxMs'>
  emergency: boolean
  usage: { old: CredentialUsage; new: CredentialUsage } | undefined
}): GateDecision {
  const { now, promotedAt, policy } = o
  if (o.emergency) return { action: 'revoke', forced: false, reason: 'emergency rotation: no grace period' }
  const graceEnd = new Date(promotedAt.getTime() + policy.graceMs)
  if (now < graceEnd) return { action: 'wait', reason: 'in grace period', until: graceEnd }
  const maxAt = new Date(promotedAt.getTime() + policy.revokeMaxMs)
  if (!o.usage) return { action: 'revoke', forced: false, reason: 'grace period over (the provider does not report usage)' }
  const oldLast = o.usage.old.lastUsedAt
  const oldIdle = oldLast === null || now.getTime() - oldLast.getTime() >= policy.revokeIdleMs
  const newSeen = o.usage.new.lastUsedAt !== null && o.usage.new.lastUsedAt.getTime() > promotedAt.getTime()
  if (newSeen && oldIdle) return { action: 'revoke', forced: false, reason: 'new credential in use and old one idle' }
  if (now >= maxAt) return { action: 'revoke', forced: !oldIdle, reason: oldIdle ? 'revoke.max reached' : 'revoke.max reached while the old credential is still in use' }
  return { action: 'wait', reason: newSeen ? 'old credential still in use' : 'new credential not yet seen in use', until: maxAt }
}

export type PlanAction = 'resume' | 'rotate' | 'notice' | 'overdue' | 'watch'

export interface PlanItem {
  secret: string
  action: PlanAction
  at: string
  reason: string
  run?: string
}

/** Fresh state for a secret rekey has not touched yet. */
export function emptyState(secret: string, seen: string): SecretState {
  return { secret, first_seen_at: seen, last_rotated_at: null, current_id: null, last_run: null, last_result: null, active_run: null, postponed_until: null, watch: null, notified: [] }
}

/**
 * What a secret needs at `now` (pure; the scheduler calls it only for secrets the due-index
 * says are due): resume its active run, rotate, send a notice, alert that it is overdue, or
 * look for use of a credential revoked recently.
 */
export function decide(p: Policy, s: SecretState, now: Date): PlanItem[] {
  const iso = now.toISOString()
  if (s.active_run) return [{ secret: p.name, action: 'resume', at: iso, reason: `run ${s.active_run} is in progress`, run: s.active_run }]
  const out: PlanItem[] = []
  if (s.watch && Date.parse(s.watch.until) > now.getTime()) out.push({ secret: p.name, action: 'watch', at: iso, reason: `credential ${s.watch.id} was revoked by run ${s.watch.run}` })
  const d = computeDue(p, s)
  if (!d) return out
  const t = now.getTime()
  if (d.overdue_at.getTime() <= t && !s.notified.includes(`overdue:${d.overdue_at.toISOString()}`)) {
    out.push({ secret: p.name, action: 'overdue', at: d.overdue_at.toISOString(), reason: 'older than 1.5 times its schedule' })
  }
  if (d.due_at.getTime() <= t) out.push({ secret: p.name, action: 'rotate', at: d.due_at.toISOString(), reason: s.postponed_until ? 'scheduled rotation due (after postponement)' : 'scheduled rotation due' })
  else if (p.noticeMs > 0 && d.notice_at.getTime() <= t && !s.notified.includes(`notice:${d.due_at.toISOString()}`)) {
    out.push({ secret: p.name, action: 'notice', at: d.notice_at.toISOString(), reason: `rotation due ${d.due_at.toISOString()}` })
  }
  return out
}

/** When the secret next needs attention, for the due-index (0 = now; null = never). */
export function nextAttention(p: Policy, s: SecretState, now: Date): number | null {
  if (s.active_run) return 0
  const times: number[] = []
  if (s.watch && Date.parse(s.watch.until) > now.getTime()) times.push(0)
  const d = computeDue(p, s)
  if (d) {
    times.push(d.due_at.getTime())
    if (p.noticeMs > 0 && !s.notified.includes(`notice:${d.due_at.toISOString()}`)) times.push(d.notice_at.getTime())
    if (!s.notified.includes(`overdue:${d.overdue_at.toISOString()}`)) times.push(d.overdue_at.getTime())
  }
  return times.length === 0 ? null : Math.min(...times)
}

/** The secrets whose due-index entry says they need attention at `now`. */
export function selectDue(due: ReadonlyMap<string, DueEntry>, now: Date): string[] {
  const t = now.getTime()
  const out: string[] = []
  for (const [secret, e] of due) if (e.at !== null && e.at <= t) out.push(secret)
  return out
}

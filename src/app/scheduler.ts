import { isAppError } from '../core/errors.js'
import type { Clock } from '../core/ports.js'
import { scheduleFingerprint, type Policy } from '../core/rotation/policy.js'
import type { CredentialProvider, DueEntry, RotationJournal } from '../core/rotation/ports.js'
import { computeDue, decide, emptyState, nextAttention, selectDue, type PlanItem } from '../core/rotation/rotation-plan.js'
import { insideWindow, windowAt } from '../core/rotation/schedule.js'
import type { RotationEngine } from './rotation-engine.js'

/**
 * `rekey tick`: everything that is due, once. Idempotent (a second tick at the same instant does
 * nothing: notices are de-duplicated, a rotation due is started once and its run is then
 * active). Its cost follows the due work: it reads the due-index, brings entries up to date
 * only for policies that are new or whose schedule changed, and touches the state, the
 * targets and the providers of due secrets only.
 */
export interface TickResult {
  at: string
  policies: number
  due: number
  rotated: { secret: string; run: string; state: string }[]
  resumed: { secret: string; run: string; state: string; waiting?: string }[]
  notices: string[]
  overdue: string[]
  presented: string[]
  deferred: { secret: string; reason: string }[]
  failed: { secret: string; error: string }[]
}

export interface SchedulerDeps {
  engine: RotationEngine
  journal: RotationJournal
  clock: Clock
  providerFor(p: Policy): CredentialProvider
  actor: string
  onProgress?: (done: number, total: number, label: string) => void
}

export function createScheduler(deps: SchedulerDeps) {
  const { engine, journal, clock } = deps

  /** Brings the due-index up to date with the policies (only new or changed ones are computed). */
  async function syncDue(policies: Policy[]): Promise<Map<string, DueEntry>> {
    const due = await journal.readDue()
    const changes = new Map<string, DueEntry | null>()
    const now = clock.now()
    const names = new Set<string>()
    for (const p of policies) {
      names.add(p.name)
      const e = due.get(p.name)
      const fp = scheduleFingerprint(p)
      if (e && e.fp === fp) continue
      const state = (await journal.getState(p.name)) ?? emptyState(p.name, e?.seen ?? now.toISOString())
      const entry: DueEntry = { at: nextAttention(p, state, now), fp, seen: state.first_seen_at }
      changes.set(p.name, entry)
      due.set(p.name, entry)
    }
    for (const name of due.keys()) {
      if (!names.has(name)) {
        changes.set(name, null)
        due.delete(name)
      }
    }
    await journal.updateDue(changes)
    return due
  }

  async function handle(p: Policy, item: PlanItem, r: TickResult): Promise<void> {
    const now = clock.now()
    switch (item.action) {
      case 'resume': {
        const out = await engine.resume(p, item.run!)
        r.resumed.push({ secret: p.name, run: out.run.id, state: out.run.state, ...(out.waiting ? { waiting: out.waiting } : {}) })
        return
      }
      case 'rotate': {
        if (p.window && !insideWindow(p.window, now)) {
          r.deferred.push({ secret: p.name, reason: `outside its window; next opens ${windowAt(p.window, now).start.toISOString()}` })
          return
        }
        const out = await engine.rotateIfDue(p, { trigger: 'auto', actor: deps.actor })
        // undefined: another tick rotated it since the due-index was read (no longer due).
        if (out) r.rotated.push({ secret: p.name, run: out.run.id, state: out.run.state })
        return
      }
      case 'notice': {
        if (await engine.sendNotice(p)) r.notices.push(p.name)
        return
      }
      case 'overdue': {
        const state = await engine.loadState(p)
        const d = computeDue(p, state)!
        const sent = await engine.notify(p, 'overdue', 'Secret overdue for rotation', [`Secret: ${p.name} (${p.provider})`, `Last rotated: ${state.last_rotated_at ?? `never (seen since ${state.first_seen_at})`}`, `It is older than 1.5 times its schedule (${p.schedule?.text ?? ''}).`], `overdue:${d.overdue_at.toISOString()}`)
        if (sent) r.overdue.push(p.name)
        return
      }
      case 'watch': {
        const state = await engine.loadState(p)
        const w = state.watch!
        const u = await deps.providerFor(p).usage({ id: w.id, value: '' })
        if (u?.lastUsedAt && u.lastUsedAt.getTime() > Date.parse(w.since)) {
          const sent = await engine.notify(p, 'revoked_presented', 'Revoked credential presented', [`Secret: ${p.name}`, `Credential ${w.id}, revoked by run ${w.run}, was presented at ${u.lastUsedAt.toISOString()}.`, 'A consumer still has the old value, or it leaked.'], `presented:${w.run}:${u.lastUsedAt.toISOString()}`)
          if (sent) r.presented.push(p.name)
        }
        return
      }
    }
  }

  return {
    syncDue,
    async tick(policies: Policy[]): Promise<TickResult> {
      const now = clock.now()
      const byName = new Map(policies.map((p) => [p.name, p]))
      const r: TickResult = { at: now.toISOString(), policies: policies.length, due: 0, rotated: [], resumed: [], notices: [], overdue: [], presented: [], deferred: [], failed: [] }
      const due = await syncDue(policies)
      const secrets = selectDue(due, now).filter((s) => byName.has(s)).sort((a, b) => (due.get(a)!.at ?? 0) - (due.get(b)!.at ?? 0))
      r.due = secrets.length
      await engine.batchDue(async (batch) => {
        for (const [i, name] of secrets.entries()) {
          const p = byName.get(name)!
          deps.onProgress?.(i, secrets.length, name)
          const state = await engine.loadState(p)
          for (const item of decide(p, state, now)) {
            try {
              await handle(p, item, r)
            } catch (e) {
              if (isAppError(e) && e.code === 'IN_PROGRESS') r.deferred.push({ secret: name, reason: e.message })
              else r.failed.push({ secret: name, error: isAppError(e) ? e.message : 'internal error' })
            }
          }
          const after = await engine.loadState(p)
          if (after.watch && Date.parse(after.watch.until) <= now.getTime()) {
            after.watch = null
            await journal.putState(after)
          }
          // Outside its window: look again when the window opens, not at every tick.
          let at = nextAttention(p, after, now)
          if (at !== null && at <= now.getTime() && !after.active_run && p.window && !insideWindow(p.window, now)) at = windowAt(p.window, now).start.getTime()
          batch.set(name, { at, fp: scheduleFingerprint(p), seen: after.first_seen_at })
        }
        deps.onProgress?.(secrets.length, secrets.length, 'done')
      }, due)
      return r
    },
  }
}

export type Scheduler = ReturnType<typeof createScheduler>

/**
 * `rekey daemon`: tick, then sleep until the next due time (at most `intervalMs`), until the
 * signal aborts. A tick in progress is finished before the loop ends (graceful SIGTERM).
 */
export async function runDaemon(o: {
  tick: () => Promise<TickResult>
  nextDueAt: () => Promise<number | null>
  clock: Clock
  signal: AbortSignal
  intervalMs: number
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
  onTick?: (r: TickResult) => void
  onError?: (e: unknown) => void
}): Promise<number> {
  let ticks = 0
  while (!o.signal.aborted) {
    try {
      const r = await o.tick()
      o.onTick?.(r)
    } catch (e) {
      o.onError?.(e)
    }
    ticks++
    if (o.signal.aborted) break
    const next = await o.nextDueAt().catch(() => null)
    const wait = Math.max(1000, Math.min(o.intervalMs, next === null ? o.intervalMs : next - o.clock.now().getTime()))
    await o.sleep(wait, o.signal)
  }
  return ticks
}

import { runDaemon, type TickResult } from '../../app/scheduler.js'
import { AppError, usageError } from '../../core/errors.js'
import { computeDue, decide, emptyState } from '../../core/rotation/rotation-plan.js'
import { formatDuration, parseDuration } from '../../core/time/duration.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { withRotationProject } from './rotation-compose.js'

/** `rekey plan`: what is due and why (next rotations, notices, pending revocations). Read-only. */
export async function planCommand(ctx: CommandContext): Promise<void> {
  await withRotationProject(ctx, { trigger: 'auto' }, async (project) => {
    const now = ctx.clock.now()
    const due = await project.journal.readDue()
    const rows = []
    for (const p of project.config.policies) {
      const state = (await project.journal.getState(p.name)) ?? emptyState(p.name, due.get(p.name)?.seen ?? now.toISOString())
      const d = computeDue(p, state)
      const run = state.active_run ? await project.journal.getRun(state.active_run) : undefined
      const items = decide(p, state, now)
      let pending: string | null = null
      if (run?.state === 'draining') {
        const graceEnd = new Date(Date.parse(run.promoted_at ?? run.updated_at) + (run.emergency ? 0 : p.graceMs))
        const maxAt = new Date(Date.parse(run.promoted_at ?? run.updated_at) + p.revokeMaxMs)
        pending = `revoke old credential of run ${run.id}: ${graceEnd > now ? `after grace (${graceEnd.toISOString()})` : 'once idle'}, by ${maxAt.toISOString()}`
      } else if (run) pending = `run ${run.id} is ${run.state}: "rekey tick" or "rekey resume ${run.id}" continues it`
      rows.push({
        secret: p.name,
        provider: p.provider,
        schedule: p.schedule?.text ?? null,
        window: p.window?.text ?? null,
        next_rotation: d?.due_at.toISOString() ?? null,
        notice_at: d && p.noticeMs > 0 ? d.notice_at.toISOString() : null,
        overdue_at: d?.overdue_at.toISOString() ?? null,
        postponed_until: state.postponed_until,
        pending,
        due_now: items.map((i) => ({ action: i.action, reason: i.reason })),
      })
    }
    if (ctx.out.json) {
      ctx.out.data({ now: now.toISOString(), policies: rows })
      return
    }
    const o = ctx.out
    o.line(`Plan at ${now.toISOString()} (${rows.length} polic${rows.length === 1 ? 'y' : 'ies'})`)
    for (const r of rows) {
      o.line(`${safe(r.secret)} (${r.provider}): next rotation ${r.next_rotation ?? 'manual only'}${r.schedule ? ` [${r.schedule}${r.window ? `, window ${r.window}` : ''}]` : ''}`)
      if (r.notice_at) o.line(`  notice: ${r.notice_at}`)
      if (r.postponed_until) o.line(`  postponed until ${r.postponed_until}`)
      if (r.pending) o.line(`  pending: ${r.pending}`)
      for (const d of r.due_now) o.line(`  due now: ${d.action}: ${safe(d.reason)}`)
    }
    const dueCount = rows.reduce((n, r) => n + r.due_now.length, 0)
    o.line(dueCount === 0 ? 'Nothing is due now.' : `${dueCount} item${dueCount === 1 ? '' : 's'} due now: run "rekey tick".`)
  })
}

function printTick(ctx: CommandContext, r: TickResult): void {
  const o = ctx.out
  for (const x of r.rotated) o.line(`rotated ${safe(x.secret)}: run ${x.run} ${x.state}`)
  for (const x of r.resumed) o.line(`resumed ${safe(x.secret)}: run ${x.run} ${x.state}${x.waiting ? ` (${safe(x.waiting)})` : ''}`)
  for (const s of r.notices) o.line(`notice sent: ${safe(s)}`)
  for (const s of r.overdue) o.line(`overdue alert sent: ${safe(s)}`)
  for (const s of r.presented) o.line(`revoked credential presented: ${safe(s)}`)
  for (const x of r.deferred) o.line(`deferred ${safe(x.secret)}: ${safe(x.reason)}`)
  for (const x of r.failed) o.line(`${o.red('failed')} ${safe(x.secret)}: ${safe(x.error)}`)
  o.line(`tick ${r.at}: ${r.due} due of ${r.policies} polic${r.policies === 1 ? 'y' : 'ies'}${r.failed.length ? `, ${r.failed.length} failed` : ''}`)
}

/** `rekey tick`: everything due, once. Idempotent; safe from cron. Exit 1 when something failed. */
export async function tickCommand(ctx: CommandContext): Promise<number> {
  return withRotationProject(ctx, { trigger: 'auto' }, async (project) => {
    const r = await project.scheduler.tick(project.config.policies)
    if (ctx.out.json) ctx.out.data(r)
    else printTick(ctx, r)
    return r.failed.length > 0 || r.rotated.some((x) => x.state === 'rolled_back' || x.state === 'needs_operator') ? 1 : 0
  })
}

/** `rekey daemon [--interval 60s]`: tick in a loop until SIGTERM/SIGINT (a tick in progress finishes first). */
export async function daemonCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const intervalMs = parseDuration(typeof opts.interval === 'string' ? opts.interval : '60s', '--interval')
  if (intervalMs < 1000) throw usageError('--interval must be at least 1s')
  const ac = new AbortController()
  const stop = () => ac.abort()
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  try {
    const ticks = await withRotationProject(ctx, { trigger: 'auto' }, async (project) => {
      if (!ctx.out.json) ctx.out.note(`rekey daemon: ${project.config.policies.length} policies in ${project.file}, checking at least every ${formatDuration(intervalMs)}`)
      return runDaemon({
        tick: () => project.scheduler.tick(project.config.policies),
        nextDueAt: async () => {
          let min: number | null = null
          for (const e of (await project.journal.readDue()).values()) if (e.at !== null && (min === null || e.at < min)) min = e.at
          return min
        },
        clock: ctx.clock,
        signal: ac.signal,
        intervalMs,
        sleep: (ms, signal) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(resolve, ms)
            signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true })
          }),
        onTick: (r) => {
          if (ctx.out.json) ctx.out.data(r)
          else if (r.due > 0 || r.failed.length > 0) printTick(ctx, r)
        },
        onError: (e) => ctx.out.note(`error: ${safe(e instanceof AppError ? e.message : 'tick failed')}`),
      })
    })
    if (!ctx.out.json) ctx.out.note(`rekey daemon: stopped after ${ticks} tick${ticks === 1 ? '' : 's'}`)
    return 0
  } finally {
    process.removeListener('SIGTERM', stop)
    process.removeListener('SIGINT', stop)
  }
}

/** `rekey postpone NAME 30d`: answers a notice (seed 004's "Reply SKIP"); audited. */
export async function postponeCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const [name, by] = [args[0]!, args[1]!]
  const ms = parseDuration(by, 'postponement')
  if (ms <= 0) throw usageError(`invalid postponement "${by}": use a positive duration such as 30d`)
  await withRotationProject(ctx, { trigger: 'manual' }, async (project) => {
    const p = project.policy(name)
    const state = await project.engine.loadState(p)
    if (state.active_run) throw new AppError('IN_PROGRESS', `${p.name}: in progress (run ${state.active_run}); postpone applies to the next scheduled rotation`)
    const d = computeDue(p, state)
    const until = await project.engine.postpone(p, ms, ctx.actor, d?.due_at ?? null)
    if (ctx.out.json) ctx.out.data({ secret: p.name, postponed_until: until.toISOString(), previous_due: d?.due_at.toISOString() ?? null })
    else ctx.out.line(`${ctx.out.green('✓')} Postponed ${safe(p.name)} by ${formatDuration(ms)}: next rotation ${until.toISOString()}`)
  })
}

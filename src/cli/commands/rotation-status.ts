import { constantTimeEqual } from '../../core/crypto/compare.js'
import type { SecretStore } from '../../core/env/ports.js'
import type { TargetStore } from '../../core/rotation/ports.js'
import { computeDue, emptyState } from '../../core/rotation/rotation-plan.js'
import type { Policy } from '../../core/rotation/policy.js'
import { formatDuration } from '../../core/time/duration.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { publicRun, withRotationProject, type RotationProject } from './rotation-compose.js'

function isFullStore(t: TargetStore): t is TargetStore & Pick<SecretStore, 'getAll'> {
  return typeof (t as Partial<SecretStore>).getAll === 'function'
}

function age(ms: number): string {
  if (ms < 60_000) return '0m'
  const d = Math.floor(ms / 86_400_000)
  if (d > 0) return `${d}d`
  return formatDuration(Math.floor(ms / 60_000) * 60_000).replace(/0s$/, '')
}

/** How many targets hold the same value as the first one that has a value (`3/3`), or why not known. */
async function inSync(project: RotationProject, p: Policy, cache: Map<string, Promise<Map<string, string> | null>>): Promise<{ text: string; value: string | null }> {
  const values: (string | undefined)[] = []
  for (const env of p.targets) {
    try {
      // Each environment is read (and decrypted) once per command, however many policies use it.
      let all = cache.get(env)
      if (!all) {
        all = project.targetFor(env, p).then((t) => (isFullStore(t) ? t.getAll() : null))
        cache.set(env, all)
      }
      const m = await all
      values.push(m ? m.get(p.variable) : await (await project.targetFor(env, p)).get(p.variable))
    } catch {
      return { text: `?/${p.targets.length}`, value: null }
    }
  }
  const ref = values.find((v) => v !== undefined)
  if (ref === undefined) return { text: `0/${p.targets.length}`, value: null }
  const n = values.filter((v) => v !== undefined && constantTimeEqual(v, ref)).length
  return { text: `${n}/${p.targets.length}`, value: ref }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
}

/** `rekey status`: secret, provider, version, age, next rotation, state, targets in sync, last result. */
export async function statusCommand(ctx: CommandContext): Promise<void> {
  await withRotationProject(ctx, { trigger: 'manual' }, async (project) => {
    const now = ctx.clock.now()
    const due = await project.journal.readDue()
    const out = []
    const cache = new Map<string, Promise<Map<string, string> | null>>()
    for (const [i, p] of project.config.policies.entries()) {
      if (project.config.policies.length > 20) ctx.out.progress(i + 1, project.config.policies.length, p.name)
      const state = (await project.journal.getState(p.name)) ?? emptyState(p.name, due.get(p.name)?.seen ?? now.toISOString())
      const d = computeDue(p, state)
      const run = state.active_run ? await project.journal.getRun(state.active_run) : undefined
      const sync = await inSync(project, p, cache)
      let version = state.current_id
      if (!version && sync.value !== null) version = (await project.providerFor(p).identify(sync.value).catch(() => null))?.id ?? null
      const since = state.last_rotated_at ?? state.first_seen_at
      const overdue = d !== null && d.overdue_at.getTime() <= now.getTime()
      out.push({
        secret: p.name,
        provider: p.provider,
        version,
        age_ms: now.getTime() - Date.parse(since),
        last_rotated_at: state.last_rotated_at,
        next_rotation: d?.due_at.toISOString() ?? null,
        state: run ? run.state : overdue ? 'overdue' : 'idle',
        run: run?.id ?? null,
        targets_in_sync: sync.text,
        last_result: state.last_result,
        last_run: state.last_run,
        used_by: p.usedBy,
        criticality: p.criticality,
      })
    }
    if (ctx.out.json) {
      ctx.out.data({ now: now.toISOString(), secrets: out })
      return
    }
    if (out.length === 0) {
      ctx.out.line('No rotation policies.')
      return
    }
    const rows = [['SECRET', 'PROVIDER', 'VERSION', 'AGE', 'NEXT ROTATION', 'STATE', 'TARGETS', 'LAST RESULT']]
    for (const r of out) {
      rows.push([
        safe(r.secret), r.provider, safe(r.version ?? '-'), r.last_rotated_at ? age(r.age_ms) : `${age(r.age_ms)}*`, r.next_rotation ? r.next_rotation.slice(0, 16).replace('T', ' ') : 'manual',
        r.run ? `${r.state} (${r.run})` : r.state, r.targets_in_sync, r.last_result ? `${r.last_result}${r.last_run ? ` (${r.last_run})` : ''}` : '-',
      ])
    }
    for (const l of table(rows)) ctx.out.line(l)
    if (out.some((r) => !r.last_rotated_at)) ctx.out.line('* never rotated by rekey: age counted from when rekey first saw the policy')
  })
}

/** `rekey history NAME`: the runs of one secret, oldest first, with their steps. */
export async function historyCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const name = args[0]!
  await withRotationProject(ctx, { trigger: 'manual' }, async (project) => {
    const p = project.policy(name)
    const runs = await project.journal.listRuns(p.name)
    if (ctx.out.json) {
      ctx.out.data({ secret: p.name, runs: runs.map(publicRun) })
      return
    }
    if (runs.length === 0) {
      ctx.out.line(`No rotation runs for ${safe(p.name)} yet.`)
      return
    }
    for (const r of runs) {
      const who = r.trigger === 'auto' ? 'auto' : `manual:${r.actor}`
      ctx.out.line(`${r.id}  ${r.created_at}  ${safe(who)}  ${r.state}${r.emergency ? ' (emergency)' : ''}  ${r.old?.last4 ?? '-'} → ${r.new?.last4 ?? '-'}${r.error ? `  error: ${safe(r.error)}` : ''}`)
      for (const s of r.steps) ctx.out.line(`  ${s.at}  ${s.state}${s.intent ? ` (${s.intent})` : ''}${s.note ? `: ${safe(s.note)}` : ''}`)
    }
  })
}

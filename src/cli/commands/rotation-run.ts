import type { RunOutcome } from '../../app/rotation-engine.js'
import { AppError } from '../../core/errors.js'
import type { Check, Policy } from '../../core/rotation/policy.js'
import type { RotationRun, RunState } from '../../core/rotation/rotation-state.js'
import { formatDuration } from '../../core/time/duration.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { publicRun, withRotationProject, type RotationProject } from './rotation-compose.js'

const STEP_INDEX: Partial<Record<RunState, number>> = { creating: 1, staged: 2, verified: 3, promoted: 4, draining: 5, revoked: 6, done: 7, failed: 6, rolled_back: 7 }
const STEP_LABEL: Partial<Record<RunState, string>> = {
  creating: 'creating the new credential',
  staged: 'staging it into every target',
  verified: 'verifying',
  promoted: 'promoting',
  draining: 'draining (grace period)',
  revoked: 'revoking the old credential',
  done: 'done',
  failed: 'rolling back',
  rolled_back: 'rolled back',
}

function progress(ctx: CommandContext) {
  let last = ''
  return (run: RotationRun) => {
    // The revocation is announced when it starts (draining + intent revoke), not again when recorded.
    const state: RunState = run.state === 'draining' && run.intent === 'revoke' ? 'revoked' : run.state
    if (state === last || (run.state === 'revoked' && last === 'revoked')) return
    last = state
    const i = STEP_INDEX[state]
    if (i !== undefined) ctx.out.progress(i, 7, `${run.secret}: ${STEP_LABEL[state] ?? state}`)
  }
}

function checkText(c: Check): string {
  if ('http' in c) return `http ${c.http.method ?? 'GET'} ${c.http.url} (expect ${c.http.expect ?? 200})`
  if ('command' in c) return `command ${c.command}`
  return 'provider test'
}

/** Prints the outcome of a run, and turns a failed one into an error (non-zero exit). */
export function report(ctx: CommandContext, p: Policy, out: RunOutcome, verb: string): void {
  const run = out.run
  if (ctx.out.json) ctx.out.data({ run: publicRun(run), ...(out.waiting ? { waiting: out.waiting } : {}) })
  if (run.state === 'rolled_back' && verb !== 'Rolled back') {
    throw new AppError('ROLLED_BACK', `${p.name}: ${run.error ?? 'failed'}; rolled back (run ${run.id})`, { hint: 'every target has its previous value and the previous credential is current; fix the cause and rotate again' })
  }
  if (run.state === 'needs_operator') {
    throw new AppError('VERIFY_FAILED', `${p.name}: ${run.error ?? 'failed'}; needs an operator (run ${run.id})`, { hint: `both credentials were kept; fix the cause, then "rekey resume ${run.id}"` })
  }
  if (ctx.out.json) return
  const o = ctx.out
  const inSync = run.targets.filter((t) => t.holds === (run.state === 'rolled_back' ? 'old' : 'new')).length
  o.line(`${o.green('✓')} ${verb} ${safe(p.name)} (run ${run.id})`)
  if (run.old || run.new) o.line(`  Old: ${run.old?.last4 ?? '-'}  New: ${run.new?.last4 ?? '-'}`)
  o.line(`  Targets: ${inSync}/${run.targets.length} ${run.state === 'rolled_back' ? 'restored' : 'updated and verified'} (${run.targets.map((t) => safe(t.env)).join(', ')})`)
  if (run.interruption_ms !== null) o.line(`  Interruption: ${run.interruption_ms} ms (single-credential provider, allow_interruption: true)`)
  if (run.state === 'draining') {
    o.line(`  State: draining: ${out.waiting ?? 'waiting'}`)
    o.line(`  The old credential is revoked by "rekey tick" once it is idle for ${formatDuration(p.revokeIdleMs)} after the ${formatDuration(p.graceMs)} grace period, by ${formatDuration(p.revokeMaxMs)} at the latest.`)
  } else if (run.state === 'done') {
    o.line(`  State: done: the old credential was revoked${run.forced_revoke ? ' at revoke.max while still in use' : ''}`)
  } else {
    o.line(`  State: ${run.state}${out.waiting ? `: ${out.waiting}` : ''}`)
  }
}

async function dryRun(ctx: CommandContext, project: RotationProject, p: Policy, o: { force: boolean; emergency: boolean }): Promise<void> {
  const current = await project.engine.readTargets(p, o.force)
  const active = await project.engine.activeRunOf(p)
  const provider = project.providerFor(p)
  const steps = [
    `check drift: ${p.targets.join(', ')} hold the same ${p.variable}${current === null ? ' (none yet)' : ''}${o.force ? ' (--force: drift allowed)' : ''}`,
    `create a new credential at ${p.provider}${p.options.key_id ? ` (key ${p.options.key_id})` : ''}${provider.capabilities.dualCredential ? '' : ' (replaces the old one in place: allow_interruption)'}`,
    `stage it into ${p.targets.join(', ')} (atomic write, read back)`,
    `verify: ${p.verify.map(checkText).join('; ')} (${p.verifyAttempts} attempts, ${formatDuration(p.verifyTimeoutMs)} timeout)`,
    'promote it to current',
    o.emergency ? 'emergency: no grace period' : `drain: the old credential stays valid for ${formatDuration(p.graceMs)}`,
    o.emergency ? 'revoke the old credential at once' : `revoke the old credential once the new one is in use and the old one idle for ${formatDuration(p.revokeIdleMs)} (by ${formatDuration(p.revokeMaxMs)} at the latest)`,
  ]
  if (ctx.out.json) {
    ctx.out.data({ secret: p.name, dry_run: true, in_progress: active?.id ?? null, steps })
    return
  }
  ctx.out.line(`Plan for ${safe(p.name)} (dry run: nothing is changed)`)
  if (active) ctx.out.line(`  note: in progress (run ${active.id}); a rotation now would be refused`)
  for (const [i, s] of steps.entries()) ctx.out.line(`  ${i + 1}. ${safe(s)}`)
}

/** `rekey rotate NAME [--dry-run] [--emergency] [--force]` */
export async function rotateCommand(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<void> {
  const name = args[0]!
  await withRotationProject(ctx, { trigger: 'manual', onStep: progress(ctx) }, async (project) => {
    const p = project.policy(name)
    const flags = { force: opts.force === true, emergency: opts.emergency === true }
    if (opts.dryRun === true) return dryRun(ctx, project, p, flags)
    const out = await project.engine.rotate(p, { trigger: 'manual', actor: ctx.actor, ...flags })
    report(ctx, p, out, 'Rotated')
  })
}

/** `rekey resume RUN` */
export async function resumeCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const runId = args[0]!
  await withRotationProject(ctx, { trigger: 'manual', onStep: progress(ctx) }, async (project) => {
    const run = await project.journal.getRun(runId)
    if (!run) throw new AppError('NOT_FOUND', `run ${runId} not found in ${safe(project.journalPlace)}`, { hint: 'see "rekey history NAME" or "rekey status"' })
    const p = project.policy(run.secret)
    const out = await project.engine.resume(p, runId, { operator: true })
    report(ctx, p, out, out.run.state === 'rolled_back' ? 'Rolled back' : 'Resumed')
    if (out.run.state === 'rolled_back' && run.state !== 'failed' && run.state !== 'needs_operator') throw new AppError('ROLLED_BACK', `${p.name}: run ${runId} was rolled back: ${out.run.error ?? ''}`)
  })
}

/** `rekey rollback NAME` */
export async function rollbackCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const name = args[0]!
  await withRotationProject(ctx, { trigger: 'manual', onStep: progress(ctx) }, async (project) => {
    const p = project.policy(name)
    const out = await project.engine.rollback(p, ctx.actor)
    report(ctx, p, out, 'Rolled back')
    if (!ctx.out.json) ctx.out.line('  Every target has its previous value again; the new credential was revoked.')
  })
}

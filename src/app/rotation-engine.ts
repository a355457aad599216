import type { AuditLog } from '../core/audit/audit-event.js'
import { last4 } from '../core/audit/mask.js'
import { constantTimeEqual } from '../core/crypto/compare.js'
import { randomFromAlphabet, randomHex } from '../core/crypto/generate.js'
import { AppError, isAppError } from '../core/errors.js'
import type { Clock, Random } from '../core/ports.js'
import type { Check, Policy } from '../core/rotation/policy.js'
import type { CheckRunner, Credential, CredentialProvider, DueEntry, Notification, NotificationKind, Notifier, RotationJournal, Sealer, SecretState, TargetStore } from '../core/rotation/ports.js'
import { computeDue, emptyState, evaluateRevokeGate, nextAttention } from '../core/rotation/rotation-plan.js'
import { isActive, transition, type Intent, type RotationRun, type RunState, type Trigger } from '../core/rotation/rotation-state.js'
import { scheduleFingerprint } from '../core/rotation/policy.js'
import { formatDuration } from '../core/time/duration.js'

/**
 * The rotation engine: one durable run per rotation, driven through the state machine of
 * core/rotation/rotation-state.ts. Before each side effect the run is written to the journal
 * with the step it is about to take (`intent`); every step is idempotent; so a run killed at
 * any point is finished, or rolled back, by `resume` (called by `rekey resume` and `rekey tick`).
 *
 * Safety rules it keeps:
 * - the old credential stays valid until the new one is staged in every target, read back,
 *   verified and promoted, and then until the revocation gate opens;
 * - a failure before revocation restores every target's previous value, makes the previous
 *   credential current again and revokes the new one (never the old one);
 * - the new credential is revoked on rollback only once the old one is confirmed to work, so
 *   the last working credential is never destroyed;
 * - one run per secret at a time (the journal's per-secret lock plus the active-run record).
 */
export interface RotationEngineDeps {
  journal: RotationJournal
  sealer: Sealer
  providerFor(p: Policy): CredentialProvider
  targetFor(env: string, p: Policy): Promise<TargetStore>
  checks: CheckRunner
  audit: Pick<AuditLog, 'append'>
  notifier: Notifier
  clock: Clock
  random: Random
  /** Waits between verification attempts (injected: tests pass an immediate one). */
  sleep?: (ms: number) => Promise<void>
  retryDelayMs?: number
  /** Called after every persisted transition (progress output). */
  onStep?: (run: RotationRun) => void
}

export interface RotateOptions {
  trigger: Trigger
  actor: string
  force?: boolean
  emergency?: boolean
}

export interface RunOutcome {
  run: RotationRun
  /** Why a draining run is waiting (grace period, old credential still in use). */
  waiting?: string
}

/** The run id a notification holds the secret's lock under (named in a concurrent caller's IN_PROGRESS). */
const NOTIFY_LOCK = 'notification'

const VALUE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

interface Secrets {
  old?: string
  new?: string
  proposed?: string
}

function errText(e: unknown): string {
  if (isAppError(e)) return e.message
  return (e as Error | undefined)?.message ?? String(e)
}

export function createRotationEngine(deps: RotationEngineDeps) {
  const { journal, sealer, clock, audit } = deps
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const retryDelayMs = deps.retryDelayMs ?? 1000
  const now = () => clock.now()

  async function save(run: RotationRun): Promise<RotationRun> {
    await journal.saveRun(run)
    deps.onStep?.(run)
    return run
  }

  async function openSecrets(run: RotationRun): Promise<Secrets> {
    return run.sealed ? ((await sealer.open(run.sealed, run.id))) : {}
  }

  async function sealSecrets(run: RotationRun, s: Secrets): Promise<string> {
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(s)) if (typeof v === 'string') clean[k] = v
    return sealer.seal(clean, run.id)
  }

  function detail(run: RotationRun, extra: Record<string, string | number | boolean | null> = {}) {
    return {
      run: run.id,
      provider: run.provider,
      trigger: run.trigger,
      old_last4: run.old?.last4 ?? null,
      new_last4: run.new?.last4 ?? null,
      ...(run.emergency ? { emergency: true } : {}),
      ...extra,
    }
  }

  async function auditRun(run: RotationRun, action: string, o: { env?: string; status?: 'ok' | 'failed'; extra?: Record<string, string | number | boolean | null> } = {}) {
    await audit.append({
      action,
      target: run.secret,
      actor: run.actor,
      ...(o.env ? { env: o.env } : {}),
      status: o.status ?? 'ok',
      detail: detail(run, o.extra),
    })
  }

  // ---- state and due-index ----------------------------------------------------------------

  /** The due-index as read at the start of a tick (so a state's first-seen time is not re-read per call). */
  let dueSnapshot: ReadonlyMap<string, DueEntry> | null = null

  async function loadState(p: Policy): Promise<SecretState> {
    const s = await journal.getState(p.name)
    if (s) return s
    const due = (dueSnapshot ?? (await journal.readDue())).get(p.name)
    return emptyState(p.name, due?.seen ?? now().toISOString())
  }

  /** While a tick runs, due-index changes are collected and written once at its end. */
  let dueBatch: Map<string, DueEntry> | null = null

  async function saveState(p: Policy, s: SecretState): Promise<void> {
    s.notified = s.notified.slice(-50)
    await journal.putState(s)
    const entry: DueEntry = { at: nextAttention(p, s, now()), fp: scheduleFingerprint(p), seen: s.first_seen_at }
    if (dueBatch) dueBatch.set(p.name, entry)
    else await journal.updateDue(new Map([[p.name, entry]]))
  }

  async function batchDue<T>(fn: (batch: Map<string, DueEntry>) => Promise<T>, snapshot?: ReadonlyMap<string, DueEntry>): Promise<T> {
    const batch = new Map<string, DueEntry>()
    dueBatch = batch
    dueSnapshot = snapshot ?? null
    try {
      return await fn(batch)
    } finally {
      dueBatch = null
      dueSnapshot = null
      await journal.updateDue(batch)
    }
  }

  async function updateState(p: Policy, fn: (s: SecretState) => void): Promise<SecretState> {
    const s = await loadState(p)
    fn(s)
    await saveState(p, s)
    return s
  }

  // ---- notifications ----------------------------------------------------------------------

  /** Run-scoped notifications already sent by this process (a run's transitions happen once). */
  const sentForRuns = new Set<string>()

  /**
   * Sends a notification once per de-duplication key; a failing notifier never fails the
   * rotation. Notifications about a run (started, succeeded, rolled back…) follow a transition
   * that happens once, so they are de-duplicated in memory; the others (notice, overdue,
   * revoked credential presented, postponed) are remembered in the secret's state.
   */
  async function notify(p: Policy, kind: NotificationKind, title: string, lines: string[], dedupeKey: string, run?: RotationRun): Promise<boolean> {
    if (run !== undefined) return deliver(p, kind, title, lines, dedupeKey, run)
    // Checked, sent and recorded under the secret's lock, so two ticks (two instances) send it once.
    return journal.withSecretLock(p.name, NOTIFY_LOCK, () => deliver(p, kind, title, lines, dedupeKey))
  }

  async function deliver(p: Policy, kind: NotificationKind, title: string, lines: string[], dedupeKey: string, run?: RotationRun): Promise<boolean> {
    const runScoped = run !== undefined
    if (runScoped ? sentForRuns.has(dedupeKey) : (await loadState(p)).notified.includes(dedupeKey)) return false
    const n: Notification = { kind, secret: p.name, title, lines, at: now().toISOString(), dedupeKey, ...(run ? { run: run.id } : {}) }
    try {
      await deps.notifier.send(n)
    } catch {
      // Delivery problems are reported by the notifier itself (log); the run goes on.
    }
    if (runScoped) sentForRuns.add(dedupeKey)
    else {
      await updateState(p, (st) => {
        if (!st.notified.includes(dedupeKey)) st.notified.push(dedupeKey)
      })
    }
    return true
  }

  function runLines(p: Policy, run: RotationRun): string[] {
    return [
      `Secret: ${p.name} (${p.provider})`,
      ...(run.old ? [`Old: ${run.old.last4}`] : []),
      ...(run.new ? [`New: ${run.new.last4}`] : []),
      `Targets: ${p.targets.join(', ')}`,
      `Run: ${run.id} (${run.trigger === 'auto' ? 'auto' : `manual:${run.actor}`})`,
    ]
  }

  // ---- verification -----------------------------------------------------------------------

  async function verifyValue(p: Policy, provider: CredentialProvider, cred: Credential): Promise<{ ok: boolean; reason?: string }> {
    const checks: Check[] = p.verify.length > 0 ? p.verify : [{ provider: true }]
    for (const check of checks) {
      let last: { ok: boolean; reason?: string } = { ok: false }
      for (let attempt = 1; attempt <= p.verifyAttempts; attempt++) {
        try {
          last = 'provider' in check ? await withTimeout(provider.test(cred), p.verifyTimeoutMs, 'provider test') : await deps.checks.run(check, cred.value, { timeoutMs: p.verifyTimeoutMs })
        } catch (e) {
          last = { ok: false, reason: errText(e) }
        }
        if (last.ok) break
        if (attempt < p.verifyAttempts) await sleep(retryDelayMs * 2 ** (attempt - 1))
      }
      if (!last.ok) return { ok: false, reason: `${checkName(check)}: ${last.reason ?? 'failed'}` }
    }
    return { ok: true }
  }

  // ---- the run ------------------------------------------------------------------------------

  async function failRun(p: Policy, run: RotationRun, reason: string, failedAction: string): Promise<RotationRun> {
    const failed = await save({ ...transition(run, 'failed', now(), { intent: 'restore', note: reason }), error: reason })
    await auditRun(failed, failedAction, { status: 'failed', extra: { reason } }).catch(() => undefined)
    await notify(p, 'failed', 'Key rotation failed', [...runLines(p, failed), `Reason: ${reason}`, p.rollbackOnFailure ? 'Rolling back: the previous credential stays current.' : 'rollback_on_failure is off: an operator must decide.'], `failed:${run.id}`, failed)
    return failed
  }

  /**
   * Writes `value` into every target and reads it back. Each target is marked `unknown` in the
   * journal before its write (if we die in between, its content is not known to be old), and
   * `holds` after it; the two are folded into one journal write per target.
   */
  async function stageTargets(p: Policy, run: RotationRun, value: string | undefined, holds: 'old' | 'new'): Promise<RotationRun> {
    let r = run
    let done: number | null = null
    const mark = (i: number | null, next: number | null) =>
      r.targets.map((x, j) => (j === i ? { ...x, holds } : j === next && x.holds !== 'unknown' ? { ...x, holds: 'unknown' as const } : x))
    for (const [i, t] of r.targets.entries()) {
      // On rollback, a target known to hold the old value is left alone (it may be the one that is down).
      if (holds === 'old' && t.holds === 'old') continue
      const store = await deps.targetFor(t.env, p)
      if (done !== null || t.holds !== 'unknown') r = await save({ ...r, targets: mark(done, i), updated_at: now().toISOString() })
      try {
        if (value === undefined) await store.apply({ unset: [p.variable] })
        else await store.apply({ set: { [p.variable]: value } })
      } catch (e) {
        // A failed apply leaves the store as it was (the SecretStore contract): the target still
        // holds what it held, so a rollback need not reach it (it may stay down).
        r = await save({ ...r, targets: r.targets.map((x, j) => (j === i ? { ...x, holds: t.holds } : x)) })
        throw e
      }
      const back = await store.get(p.variable)
      const same = value === undefined ? back === undefined : back !== undefined && constantTimeEqual(back, value)
      if (!same) throw new AppError('ADAPTER_FAILED', `target ${t.env}: ${p.variable} did not read back as written`)
      done = i
      if (holds === 'new') await auditRun(r, 'rotation.stage', { env: t.env })
    }
    if (done !== null) r = await save({ ...r, targets: mark(done, null), updated_at: now().toISOString() })
    return r
  }

  /** Drives a run as far as it can go now. */
  async function drive(p: Policy, start: RotationRun, fresh: boolean): Promise<RunOutcome> {
    const provider = deps.providerFor(p)
    let run = start
    const secrets = await openSecrets(run)
    const oldCred: Credential | null = run.old && secrets.old !== undefined ? { id: run.old.id, value: secrets.old } : null
    let firstCreating = !fresh
    for (let guard = 0; guard < 100; guard++) {
      const newCred: Credential | null = run.new && secrets.new !== undefined ? { id: run.new.id, value: secrets.new } : null
      try {
        switch (run.state) {
          case 'scheduled':
            run = await save(transition(run, 'creating', now(), { intent: 'create' }))
            firstCreating = false // this process is about to create: nothing was lost
            break
          case 'creating': {
            if (!newCred) {
              const input = { runId: run.id, current: oldCred, proposed: secrets.proposed ?? '' }
              if (firstCreating && !provider.capabilities.acceptsValue) {
                // Killed while the provider was creating: its value was never recorded. Undo and roll back.
                await provider.discard(input)
                run = await failRun(p, run, 'interrupted while creating the new credential (its value was not recorded)', 'rotation.start')
                break
              }
              const created = await provider.create(input)
              secrets.new = created.value
              run = await save({ ...run, new: { id: created.id, last4: last4(created.value) }, sealed: await sealSecrets(run, secrets), updated_at: now().toISOString() })
            }
            firstCreating = false
            run = await save(transition(run, 'staged', now(), { intent: 'stage' }))
            break
          }
          case 'staged':
            if (run.intent === 'stage') run = await stageTargets(p, run, secrets.new, 'new')
            run = await save(transition(run, 'verified', now(), { intent: 'verify' }))
            break
          case 'verified': {
            if (run.intent === 'verify') {
              const v = await verifyValue(p, provider, newCred!)
              if (!v.ok) {
                run = await failRun(p, run, `verification failed: ${v.reason ?? 'unknown'}`, 'rotation.verify')
                break
              }
              if (!provider.capabilities.dualCredential) run = { ...run, interruption_ms: now().getTime() - Date.parse(run.steps.find((s) => s.state === 'creating')?.at ?? run.created_at) }
              await auditRun(run, 'rotation.verify', run.interruption_ms !== null ? { extra: { interruption_ms: run.interruption_ms } } : {})
            }
            run = await save(transition(run, 'promoted', now(), { intent: 'promote' }))
            break
          }
          case 'promoted': {
            if (run.intent === 'promote') {
              await provider.promote(newCred!, oldCred)
              await auditRun(run, 'rotation.promote')
            }
            const promotedAt = run.promoted_at ?? now().toISOString()
            run = await save({ ...transition(run, 'draining', now(), { note: run.emergency ? 'emergency: no grace period' : `grace ${formatDuration(p.graceMs)}` }), promoted_at: promotedAt })
            await updateState(p, (s) => {
              s.last_rotated_at = promotedAt
              s.current_id = run.new?.id ?? null
            })
            const graceText = run.emergency ? 'Emergency rotation: the old credential is revoked now.' : `Grace period: ${formatDuration(p.graceMs)}; the old credential is revoked once it is idle (by ${formatDuration(p.revokeMaxMs)} at the latest).`
            await notify(p, 'succeeded', 'Key rotation complete', [...runLines(p, run), `All targets updated: ${run.targets.length}/${run.targets.length}`, graceText, ...(run.interruption_ms !== null ? [`Interruption: ${run.interruption_ms} ms (single-credential provider)`] : [])], `succeeded:${run.id}`, run)
            break
          }
          case 'draining': {
            if (run.intent !== 'revoke') {
              if (!provider.capabilities.dualCredential || !oldCred) {
                run = await save(transition(run, 'draining', now(), { intent: 'revoke', note: oldCred ? 'replaced in place' : 'no previous credential' }))
                break
              }
              const promotedAt = new Date(run.promoted_at ?? run.updated_at)
              if (!run.emergency && now().getTime() > promotedAt.getTime() && now().getTime() < promotedAt.getTime() + p.revokeMaxMs && !fresh) {
                // The checks run again during the grace window; a failure rolls back (seed 004).
                const v = await verifyValue(p, provider, newCred!)
                if (!v.ok) {
                  run = await failRun(p, run, `verification failed during the grace period: ${v.reason ?? 'unknown'}`, 'rotation.verify')
                  break
                }
              }
              let usage: Parameters<typeof evaluateRevokeGate>[0]['usage']
              if (provider.capabilities.usage && !run.emergency) {
                const [o, n] = await Promise.all([provider.usage(oldCred), provider.usage(newCred!)])
                usage = o && n ? { old: o, new: n } : undefined
              }
              const gate = evaluateRevokeGate({ now: now(), promotedAt, policy: p, emergency: run.emergency, usage })
              if (gate.action === 'wait') return { run, waiting: `${gate.reason}${gate.until ? ` (until ${gate.until.toISOString()})` : ''}` }
              run = await save({ ...transition(run, 'draining', now(), { intent: 'revoke', note: gate.reason }), forced_revoke: gate.forced })
              if (gate.forced) {
                await notify(p, 'still_in_use', 'Old credential still in use at revoke.max', [...runLines(p, run), `The old credential ${run.old?.last4 ?? ''} was still in use after ${formatDuration(p.revokeMaxMs)}; it is revoked now. Check the consumers: ${p.usedBy.join(', ') || 'unknown'}.`], `still_in_use:${run.id}`, run)
              }
              break
            }
            if (oldCred && provider.capabilities.dualCredential) await provider.revoke(oldCred)
            // Audited before the state moves on: a crash in between repeats the (idempotent) revoke and its event.
            await auditRun(run, 'rotation.revoke', { extra: { forced: run.forced_revoke } })
            // revoked and done in one journal write: nothing happens between them but bookkeeping.
            run = { ...transition(run, 'revoked', now()), revoked_at: now().toISOString() }
            run = await save({ ...transition(run, 'done', now()), finished_at: now().toISOString(), sealed: null })
            await settle(p, provider, run)
            await notify(p, 'revoked', 'Old key revoked', [`Secret: ${p.name}`, ...(run.old ? [`Revoked key: ${run.old.last4}`] : []), 'All services confirmed working with the new key. Rotation complete.'], `revoked:${run.id}`, run)
            return { run }
          }
          case 'revoked': {
            run = await save({ ...transition(run, 'done', now()), finished_at: now().toISOString(), sealed: null })
            await settle(p, provider, run)
            await notify(p, 'revoked', 'Old key revoked', [`Secret: ${p.name}`, ...(run.old ? [`Revoked key: ${run.old.last4}`] : []), 'All services confirmed working with the new key. Rotation complete.'], `revoked:${run.id}`, run)
            return { run }
          }
          case 'failed': {
            // An operator's explicit rollback (rekey rollback, rekey resume of a needs_operator run) always proceeds.
            if (!p.rollbackOnFailure && run.intent === 'restore' && !run.steps.some((s) => s.note === 'rollback requested' || s.note === 'operator retry')) {
              run = await save(transition(run, 'needs_operator', now(), { note: 'rollback_on_failure is off' }))
              break
            }
            run = await rollback(p, provider, run, secrets, oldCred, newCred)
            break
          }
          case 'needs_operator':
            await updateState(p, (s) => {
              s.last_result = 'needs_operator'
              s.last_run = run.id
            })
            await notify(p, 'needs_operator', 'Key rotation needs an operator', [...runLines(p, run), `Reason: ${run.error ?? 'unknown'}`, `Both credentials were kept. Fix the cause, then run "rekey resume ${run.id}" (or "rekey rollback ${p.name}").`], `needs_operator:${run.id}`, run)
            return { run }
          case 'done':
          case 'rolled_back':
            return { run }
        }
      } catch (e) {
        // A step may have saved progress (a target written) before failing: continue from what is on disk.
        run = (await journal.getRun(run.id).catch(() => undefined)) ?? run
        if (!isActive(run.state)) return { run }
        if (run.state === 'failed' || run.state === 'needs_operator') {
          run = await save({ ...transition(run, 'needs_operator', now(), { note: errText(e) }), error: `${run.error ?? ''}; rollback incomplete: ${errText(e)}` })
          continue
        }
        if (run.state === 'revoked' || run.state === 'draining') {
          // After promotion only a failed check rolls back (handled above). Anything else (usage
          // unavailable, revocation failing, bookkeeping) leaves the run as it is for the next tick.
          return { run, waiting: `will retry: ${errText(e)}` }
        }
        run = await failRun(p, run, errText(e), actionFor(run.state))
      }
    }
    throw new AppError('INTERNAL', `run ${run.id} did not settle`)
  }

  /**
   * The secret's state after a run finished (done or rolled back). Idempotent: `resume` calls it
   * again for a finished run whose bookkeeping a crash interrupted.
   */
  async function settle(p: Policy, provider: CredentialProvider, run: RotationRun): Promise<void> {
    await updateState(p, (s) => {
      if (s.active_run === run.id) s.active_run = null
      s.last_run = run.id
      if (run.state === 'done') {
        s.last_result = 'succeeded'
        s.current_id = run.new?.id ?? s.current_id
        s.last_rotated_at = run.promoted_at ?? s.last_rotated_at
        const revokedAt = run.revoked_at ?? run.finished_at ?? now().toISOString()
        s.watch = run.old && provider.capabilities.usage ? { run: run.id, id: run.old.id, since: revokedAt, until: new Date(Date.parse(revokedAt) + 7 * 86_400_000).toISOString() } : null
      } else if (run.state === 'rolled_back') {
        s.last_result = 'rolled_back'
        if (run.promoted_at !== null) s.current_id = run.old?.id ?? null
      }
    })
  }

  async function rollback(p: Policy, provider: CredentialProvider, start: RotationRun, secrets: Secrets, oldCred: Credential | null, newCred: Credential | null): Promise<RotationRun> {
    let run = start
    const promoted = run.promoted_at !== null
    if (newCred && oldCred) {
      const oldWorks = async () => {
        // Never give up the new credential unless the old one is confirmed to work.
        const t = await provider.test(oldCred)
        if (!t.ok) throw new AppError('VERIFY_FAILED', `the previous credential does not work either (${t.reason ?? 'test failed'}); both were kept`)
      }
      if (!provider.capabilities.dualCredential) {
        // The old credential was replaced in place: put it back (the provider installs a given value).
        if (!provider.capabilities.acceptsValue) throw new AppError('ADAPTER_FAILED', `${p.provider} cannot reinstall the previous credential`)
        await provider.create({ runId: run.id, current: newCred, proposed: oldCred.value })
        await oldWorks()
      } else {
        // Tested before reinstating: reinstating may revoke the new credential (apiauth's rollback does).
        await oldWorks()
        if (promoted) await provider.reinstate(oldCred, newCred)
      }
    }
    run = await save({ ...run, intent: 'restore' })
    run = await stageTargets(p, run, secrets.old, 'old')
    if (newCred && provider.capabilities.dualCredential) {
      run = await save({ ...run, intent: 'discard' })
      await provider.revoke(newCred)
    } else if (!newCred) {
      await provider.discard({ runId: run.id, current: oldCred, proposed: secrets.proposed ?? '' })
    }
    await auditRun(run, 'rotation.rollback', { extra: { reason: run.error ?? 'requested' } })
    run = await save({ ...transition(run, 'rolled_back', now()), finished_at: now().toISOString(), sealed: null })
    await settle(p, provider, run)
    await notify(p, 'rolled_back', 'Key rotation rolled back', [...runLines(p, run), `Reason: ${run.error ?? 'requested'}`, 'Every target has its previous value again; the new credential was revoked.'], `rolled_back:${run.id}`, run)
    return run
  }

  function newRunId(): string {
    return `rot_${randomHex(deps.random, 8)}`
  }

  async function activeRunOf(p: Policy): Promise<RotationRun | undefined> {
    const s = await journal.getState(p.name)
    if (!s?.active_run) return undefined
    const r = await journal.getRun(s.active_run)
    return r && isActive(r.state) ? r : undefined
  }

  /** Reads every target's value; they must agree (seed 000's drift check) unless forced. */
  async function readTargets(p: Policy, force: boolean): Promise<string | null> {
    const values: { env: string; value: string | undefined }[] = []
    for (const env of p.targets) {
      try {
        const store = await deps.targetFor(env, p)
        values.push({ env, value: await store.get(p.variable) })
      } catch (e) {
        throw new AppError('ADAPTER_FAILED', `target ${env}: cannot read ${p.variable}: ${errText(e)}`, { retryable: true, cause: e })
      }
    }
    const first = values[0]!
    for (const v of values.slice(1)) {
      const same = v.value === undefined || first.value === undefined ? v.value === first.value : constantTimeEqual(v.value, first.value)
      if (!same && !force) {
        throw new AppError('CONFLICT', `${p.variable} differs between ${first.env} and ${v.env}: environments drifted; nothing was changed`, { hint: 'sync them first (envault sync), or rotate with --force' })
      }
    }
    return values.find((v) => v.value !== undefined)?.value ?? null
  }

  async function start(p: Policy, o: RotateOptions, onlyIfDue: boolean): Promise<RunOutcome | undefined> {
    const provider = deps.providerFor(p)
    if (!provider.capabilities.dualCredential && !p.allowInterruption) {
      throw new AppError('CONFIG_INVALID', `${p.name}: provider ${p.provider} allows one credential at a time; set allow_interruption: true to accept a short interruption`)
    }
    const runId = newRunId()
    return journal.withSecretLock(p.name, runId, async () => {
      const active = await activeRunOf(p)
      if (active && o.emergency && active.state === 'draining' && active.intent === null) {
        // A leak while the previous rotation drains: end its grace now (its new credential is
        // verified and in every target), then rotate again at once.
        const iso = now().toISOString()
        const ended = await drive(p, { ...active, emergency: true, updated_at: iso, steps: [...active.steps, { state: 'draining', at: iso, note: `emergency rotation requested by ${o.actor}: grace ended` }] }, false)
        if (ended.run.state !== 'done') throw new AppError('IN_PROGRESS', `${p.name}: in progress (run ${active.id}): could not end its grace period (${ended.run.state})`)
      } else if (active) {
        throw new AppError('IN_PROGRESS', `${p.name}: in progress (run ${active.id})`, { hint: `finish it with "rekey resume ${active.id}", or see "rekey status"` })
      }
      if (onlyIfDue) {
        // Another tick (here or on another instance) may have rotated it since the due-index was read.
        const d = computeDue(p, await loadState(p))
        if (!d || d.due_at.getTime() > now().getTime()) return undefined
      }
      const at = now().toISOString()
      const draft: RotationRun = {
        id: runId, secret: p.name, variable: p.variable, provider: p.provider, state: 'scheduled', intent: null, trigger: o.trigger, actor: o.actor,
        emergency: o.emergency === true, force: o.force === true, created_at: at, updated_at: at, old: null, new: null, sealed: null,
        targets: p.targets.map((env) => ({ env, holds: 'old' as const })), promoted_at: null, revoked_at: null, finished_at: null, error: null,
        interruption_ms: null, forced_revoke: false, steps: [{ state: 'scheduled', at }],
      }
      let oldValue: string | null
      let oldCred: Credential | null
      try {
        oldValue = await readTargets(p, o.force === true)
        oldCred = await provider.identify(oldValue)
      } catch (e) {
        await audit.append({ action: 'rotation.start', target: p.name, actor: o.actor, status: 'failed', detail: { ...detail(draft), reason: errText(e) } })
        throw e
      }
      const proposed = randomFromAlphabet(deps.random, 32, VALUE_ALPHABET)
      const secrets: Secrets = { ...(oldValue !== null ? { old: oldValue } : {}), proposed }
      const run: RotationRun = { ...draft, old: oldCred ? { id: oldCred.id, last4: last4(oldCred.value) } : null, sealed: await sealer.seal(secrets as Record<string, string>, runId) }
      await auditRun(run, 'rotation.start', o.force ? { extra: { force: true } } : {})
      await save(run)
      await updateState(p, (s) => {
        s.active_run = run.id
        s.postponed_until = null
      })
      await notify(p, 'started', 'Key rotation started', runLines(p, run), `started:${run.id}`, run)
      return drive(p, run, true)
    })
  }

  return {
    /** Starts and drives a rotation of one secret. */
    async rotate(p: Policy, o: RotateOptions): Promise<RunOutcome> {
      return (await start(p, o, false))!
    },

    /**
     * The scheduler's rotation: started only if the secret is still due once its lock is held
     * (another tick, on this host or another instance, may have rotated it since this tick read
     * the due-index); undefined when it no longer is.
     */
    rotateIfDue: (p: Policy, o: RotateOptions): Promise<RunOutcome | undefined> => start(p, o, true),

    /**
     * Continues a run from where it stopped (after a crash, or a draining run whose gate may
     * open). A run that needs an operator is retried only when an operator asks (`operator`).
     */
    async resume(p: Policy, runId: string, o: { operator?: boolean } = {}): Promise<RunOutcome> {
      return journal.withSecretLock(p.name, runId, async () => {
        const run = await journal.getRun(runId)
        if (!run) throw new AppError('NOT_FOUND', `run ${runId} not found`)
        if (!isActive(run.state)) {
          const s = await journal.getState(p.name)
          if (s?.active_run === run.id) await settle(p, deps.providerFor(p), run)
          return { run }
        }
        if (run.state === 'needs_operator') {
          if (!o.operator) return { run, waiting: `needs an operator: fix the cause, then "rekey resume ${run.id}"` }
          return drive(p, retryRollback(run, now()), false)
        }
        return drive(p, run, false)
      })
    },

    /** Makes the previous credential current again everywhere (during the grace period). */
    async rollback(p: Policy, actor: string): Promise<RunOutcome> {
      const active = await activeRunOf(p)
      if (!active) throw new AppError('NOT_FOUND', `${p.name}: no rotation in progress or in its grace period to roll back`, { hint: 'once the old credential is revoked, rotate again instead' })
      return journal.withSecretLock(p.name, active.id, async () => {
        const run = (await journal.getRun(active.id))!
        if (!isActive(run.state)) return { run }
        if (run.state === 'revoked') throw new AppError('CONFLICT', `${p.name}: run ${run.id} already revoked the old credential; rotate again instead`)
        let r: RotationRun = { ...run, actor }
        if (r.state === 'needs_operator') r = retryRollback(r, now())
        else if (r.state !== 'failed') {
          r = await save({ ...transition(r, 'failed', now(), { intent: 'restore', note: 'rollback requested' }), error: `rollback requested by ${actor}` })
        }
        return drive(p, r, false)
      })
    },

    /** The notice before a scheduled rotation (seed 004's "7 days before"), once per due date; audited. */
    async sendNotice(p: Policy): Promise<boolean> {
      // Under the secret's lock: two ticks (two instances) audit and send it once.
      return journal.withSecretLock(p.name, NOTIFY_LOCK, async () => {
        const state = await loadState(p)
        const d = computeDue(p, state)
        if (!d) return false
        const key = `notice:${d.due_at.toISOString()}`
        if (state.notified.includes(key)) return false
        await audit.append({ action: 'rotation.notice', target: p.name, actor: 'rekey', detail: { due_at: d.due_at.toISOString(), trigger: 'auto', current: state.current_id } })
        return deliver(
          p,
          'notice',
          'Upcoming key rotation',
          [`Secret: ${p.name} (${p.provider})`, ...(state.current_id ? [`Current credential: ${state.current_id}`] : []), `Next rotation: ${d.due_at.toISOString()}`, 'Action required: none (auto-rotation enabled)', `Run "rekey postpone ${p.name} 30d" to postpone by 30 days.`],
          key,
        )
      })
    },

    /** Pushes the next scheduled rotation back (answers a notice: seed 004's "Reply SKIP"). */
    async postpone(p: Policy, byMs: number, actor: string, dueAt: Date | null): Promise<Date> {
      const base = Math.max(now().getTime(), dueAt?.getTime() ?? now().getTime())
      const until = new Date(base + byMs)
      await audit.append({ action: 'rotation.postpone', target: p.name, actor, detail: { until: until.toISOString(), by: formatDuration(byMs), trigger: 'manual' } })
      await updateState(p, (s) => {
        s.postponed_until = until.toISOString()
      })
      await notify(p, 'postponed', 'Key rotation postponed', [`Secret: ${p.name}`, `Next rotation: ${until.toISOString()}`, `By: ${actor}`], `postponed:${p.name}:${until.toISOString()}`)
      return until
    },

    notify,
    batchDue,
    loadState,
    saveState,
    updateState,
    activeRunOf,
    readTargets,
    verifyValue,
  }
}

export type RotationEngine = ReturnType<typeof createRotationEngine>

/** An operator's retry of a rollback that needed them (needs_operator → failed, outside the normal machine). */
function retryRollback(run: RotationRun, at: Date): RotationRun {
  const iso = at.toISOString()
  return { ...run, state: 'failed', intent: 'restore', updated_at: iso, steps: [...run.steps, { state: 'failed', at: iso, intent: 'restore', note: 'operator retry' }] }
}

function actionFor(state: RunState): string {
  switch (state) {
    case 'staged':
      return 'rotation.stage'
    case 'verified':
      return 'rotation.verify'
    case 'promoted':
      return 'rotation.promote'
    case 'draining':
    case 'revoked':
      return 'rotation.revoke'
    default:
      return 'rotation.start'
  }
}

function checkName(c: Check): string {
  if ('http' in c) return `http check ${c.http.url}`
  if ('command' in c) return `command check ${c.command}`
  return 'provider test'
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new AppError('ADAPTER_FAILED', `${what} timed out after ${formatDuration(ms)}`, { retryable: true })), ms)))])
  } finally {
    clearTimeout(t)
  }
}

export type { Intent }

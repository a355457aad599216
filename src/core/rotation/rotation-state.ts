import { AppError } from '../errors.js'

/**
 * The rotation run, a durable state machine. Each state names the step the run has reached;
 * the engine writes the state (and, for a step with a side effect, its `intent`) to the journal
 * BEFORE doing the side effect, and every side effect is idempotent, so a run killed at any
 * point is finished or rolled back by re-running the step it was in.
 *
 *   scheduled → creating → staged → verified → promoted → draining → revoked → done
 *        ↘ (any step before revoked) failed → rolled_back
 *        ↘ needs_operator (a rollback could not complete: a human must look)
 */
export const RUN_STATES = ['scheduled', 'creating', 'staged', 'verified', 'promoted', 'draining', 'revoked', 'done', 'failed', 'rolled_back', 'needs_operator'] as const
export type RunState = (typeof RUN_STATES)[number]

/** Finished runs. `needs_operator` is not one: it keeps the secret locked until an operator resolves it. */
export const TERMINAL: ReadonlySet<RunState> = new Set(['done', 'rolled_back'])

const NEXT: Record<RunState, readonly RunState[]> = {
  scheduled: ['creating', 'failed'],
  creating: ['staged', 'failed'],
  staged: ['verified', 'failed'],
  verified: ['promoted', 'failed'],
  promoted: ['draining', 'failed'],
  draining: ['revoked', 'failed'],
  revoked: ['done'],
  done: [],
  failed: ['rolled_back', 'needs_operator'],
  rolled_back: [],
  needs_operator: ['rolled_back', 'done'],
}

export function canTransition(from: RunState, to: RunState): boolean {
  return NEXT[from].includes(to)
}

export function isActive(s: RunState): boolean {
  return !TERMINAL.has(s)
}

/** The side effect a state is about to perform (written before it starts). */
export type Intent = 'create' | 'stage' | 'verify' | 'promote' | 'revoke' | 'restore' | 'discard' | 'reinstate'

export type Trigger = 'auto' | 'manual'

/** A credential as the journal records it: the provider's handle and a mask; the value itself is sealed. */
export interface CredentialRef {
  id: string
  last4: string
}

export interface RunStep {
  state: RunState
  at: string
  intent?: Intent
  note?: string
}

export interface TargetStatus {
  env: string
  /** 'old' | 'new': which value this target holds as far as the run knows. */
  holds: 'old' | 'new' | 'unknown'
}

export interface RotationRun {
  id: string // rot_<hex>
  secret: string
  variable: string
  provider: string
  state: RunState
  intent: Intent | null
  trigger: Trigger
  actor: string
  emergency: boolean
  force: boolean
  created_at: string
  updated_at: string
  old: CredentialRef | null
  new: CredentialRef | null
  /** AES-GCM sealed JSON {old?, new?, proposed?} values; never plaintext. */
  sealed: string | null
  targets: TargetStatus[]
  promoted_at: string | null
  revoked_at: string | null
  finished_at: string | null
  error: string | null
  /** Milliseconds during which no credential worked (single-credential providers only). */
  interruption_ms: number | null
  /** Revocation happened at revoke.max while the old credential was still in use. */
  forced_revoke: boolean
  steps: RunStep[]
}

/** Returns the run moved to `to`, or throws INTERNAL for a transition the machine does not allow. */
export function transition(run: RotationRun, to: RunState, at: Date, o: { intent?: Intent | null; note?: string } = {}): RotationRun {
  if (run.state !== to && !canTransition(run.state, to)) {
    throw new AppError('INTERNAL', `run ${run.id}: illegal transition ${run.state} → ${to}`)
  }
  const iso = at.toISOString()
  const intent = o.intent === undefined ? null : o.intent
  const step: RunStep = { state: to, at: iso, ...(intent ? { intent } : {}), ...(o.note ? { note: o.note } : {}) }
  return { ...run, state: to, intent, updated_at: iso, steps: [...run.steps, step] }
}

import type { SecretStore } from '../env/ports.js'
import type { Check } from './policy.js'
import type { RotationRun } from './rotation-state.js'

/**
 * The ports of the rotation engine. Every credential provider (apiauth, postgres, mariadb,
 * redis, http, command) implements `CredentialProvider`, and one contract suite
 * (src/adapters/providers/provider.contract.ts) runs against each of them.
 */

/** A credential: the provider's non-secret handle (a key version, a role name) and the value written to targets. */
export interface Credential {
  id: string
  value: string
}

export interface ProviderCapabilities {
  /** Two credentials can be valid at once. When false, `create` replaces the old one in place. */
  dualCredential: boolean
  /** `usage` reports per-credential use, which the idle gate needs. */
  usage: boolean
  /** `create` installs the proposed value (so a re-run after a crash is idempotent). */
  acceptsValue: boolean
}

export interface CredentialUsage {
  /** Last time this credential was seen in use, null when never. */
  lastUsedAt: Date | null
}

export interface CreateInput {
  runId: string
  current: Credential | null
  /** A fresh random value the provider may install; sealed in the journal before `create` is called. */
  proposed: string
}

export interface CredentialProvider {
  readonly kind: string
  readonly capabilities: ProviderCapabilities
  /** Which credential a value in the targets is (null when the targets hold none). */
  identify(value: string | null): Promise<Credential | null>
  /** Makes a new credential valid (beside the current one when dualCredential). Idempotent for one proposal. */
  create(input: CreateInput): Promise<Credential>
  /** The provider's own test of a credential: can it authenticate? */
  test(c: Credential): Promise<{ ok: boolean; reason?: string }>
  /** Marks `c` current at the provider (a no-op for most). */
  promote(c: Credential, previous: Credential | null): Promise<void>
  /** Invalidates a credential. Idempotent: revoking a revoked credential succeeds. */
  revoke(c: Credential): Promise<void>
  /** After promotion went wrong: makes `previous` current again at the provider. */
  reinstate(previous: Credential, failed: Credential): Promise<void>
  /** Undoes a `create` whose result was never recorded (a crash in the middle of it). */
  discard(input: CreateInput): Promise<void>
  /** Per-credential usage, or undefined when the provider cannot tell. */
  usage(c: Credential): Promise<CredentialUsage | undefined>
  close?(): Promise<void>
}

/** Where a secret is written: one environment (a .env file, a store). */
export type TargetStore = Pick<SecretStore, 'get' | 'apply'>

export interface CheckRunner {
  run(check: Check, value: string, o: { timeoutMs: number }): Promise<{ ok: boolean; reason?: string }>
}

export type NotificationKind =
  | 'notice'
  | 'started'
  | 'succeeded'
  | 'failed'
  | 'rolled_back'
  | 'still_in_use'
  | 'revoked'
  | 'revoked_presented'
  | 'overdue'
  | 'needs_operator'
  | 'postponed'

/** A notification. Fields hold masked values only (last 4 characters at most). */
export interface Notification {
  kind: NotificationKind
  secret: string
  title: string
  lines: string[]
  run?: string
  at: string
  /** Repeats with the same key are sent once. */
  dedupeKey: string
}

export interface Notifier {
  send(n: Notification): Promise<void>
}

/** Per-secret rotation state, kept only for secrets something happened to. */
export interface SecretState {
  secret: string
  first_seen_at: string
  last_rotated_at: string | null
  current_id: string | null
  last_run: string | null
  last_result: 'succeeded' | 'failed' | 'rolled_back' | 'needs_operator' | null
  active_run: string | null
  postponed_until: string | null
  /** The revoked credential to watch for use after revocation (revoked credential presented). */
  watch: { run: string; id: string; since: string; until: string } | null
  /** Notifications already sent (de-duplication keys), newest last, bounded. */
  notified: string[]
}

/**
 * One entry of the due-index: when the secret next needs attention (epoch ms; null: never;
 * 0: now, e.g. an active run), the fingerprint of the schedule it was computed from, and when
 * rekey first saw the policy. `rekey tick` reads only this index and then touches only the due
 * secrets, so its cost follows the due work, not the number of policies.
 */
export interface DueEntry {
  at: number | null
  fp: string
  seen: string
}

export interface RotationJournal {
  getRun(id: string): Promise<RotationRun | undefined>
  /** Durably writes the run (atomic replace) before the caller goes on to the side effect. */
  saveRun(run: RotationRun): Promise<void>
  listRuns(secret?: string): Promise<RotationRun[]>
  getState(secret: string): Promise<SecretState | undefined>
  putState(s: SecretState): Promise<void>
  listStates(): Promise<SecretState[]>
  readDue(): Promise<Map<string, DueEntry>>
  /** Merges changes into the due-index under a cross-process lock (null removes an entry). */
  updateDue(changes: ReadonlyMap<string, DueEntry | null>): Promise<void>
  /**
   * Holds the secret's lock while `fn` runs. Throws IN_PROGRESS naming the holder's run when a
   * live process holds it; a lock left by a dead process is taken over.
   */
  withSecretLock<T>(secret: string, runId: string, fn: () => Promise<T>): Promise<T>
}

/** Seals the values a run needs to resume (old, new, proposed) with the project's master key. */
export interface Sealer {
  seal(values: Record<string, string>, place: string): Promise<string>
  open(sealed: string, place: string): Promise<Record<string, string>>
}

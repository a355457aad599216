/**
 * Where one environment's variables live: a .env file (plain or with per-value encryption), the
 * local-file secret store, PostgreSQL, or (later) Vault, AWS SSM, Doppler, 1Password.
 * The same contract suite runs against every implementation.
 */
export interface SecretStore {
  readonly kind: string
  readonly capabilities: { delete: boolean; versions: boolean; list: boolean }
  list(prefix?: string): Promise<string[]>
  get(name: string): Promise<string | undefined>
  /** All variables at once, in file order for files. */
  getAll(): Promise<Map<string, string>>
  /** Applies sets and deletes in one atomic write (a failure leaves the store as it was). */
  apply(changes: { set?: Record<string, string>; unset?: string[] }): Promise<void>
}

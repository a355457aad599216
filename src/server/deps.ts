import type { AuditEvent, AuditQuery } from '../core/audit/audit-event.js'
import type { VerifyResult } from '../core/keys/verify.js'
import type { Clock } from '../core/ports.js'
import type { ApiToken } from '../adapters/postgres/token-store.js'

/** Key metadata as the API returns it: never a value, never a hash. */
export interface KeyView {
  id: string
  type: string
  name: string
  service: string
  prefix_shown: string
  version: number
  status: 'active' | 'expired' | 'revoked'
  created_at: string
  rotated_at: string | null
  expires_at: string | null
  revoked: boolean
  revoked_at: string | null
  versions: { version: number; created_at: string; grace_until: string | null; revoked_at: string | null; last_used_at: string | null; use_count: number }[]
}

/** What the server needs of the keys use cases (the apiauth keys service, adapted in main.ts). */
export interface KeysApi {
  create(o: { name: string; service: string; type: 'api_key' | 'jwt'; expiresInDays?: number; rateLimit?: number; prefix?: string; actor: string }): Promise<{ key: string; entry: KeyView }>
  list(o: { service?: string }): Promise<KeyView[]>
  get(id: string): Promise<KeyView | undefined>
  rotate(id: string, o: { grace?: string; expiresInDays?: number; actor: string }): Promise<{ key: string; entry: KeyView }>
  revoke(id: string, o: { actor: string }): Promise<KeyView>
  verify(key: string): Promise<VerifyResult>
  /** Usage seen by SDK middleware (cached verifications), folded into the per-version usage. */
  reportUse(uses: { id: string; version: number; at: string; count: number }[]): Promise<void>
}

export interface SecretMeta {
  name: string
  env: string
  version: number
}

/** What the server needs of the environment use cases, with audit on every read and write. */
export interface SecretsApi {
  get(env: string, name: string, o: { actor: string; version?: number }): Promise<{ value: string; version: number } | undefined>
  put(env: string, name: string, value: string, o: { actor: string }): Promise<SecretMeta>
  delete(env: string, name: string, o: { actor: string }): Promise<boolean>
  list(env: string, o: { prefix?: string; actor: string }): Promise<string[]>
  versions(env: string, name: string): Promise<{ version: number; created_at: string; deleted: boolean }[]>
}

/** The rotation engine's operations, when it is configured. */
export interface RotationsApi {
  list(): Promise<unknown[]>
  status(name: string): Promise<unknown>
  trigger(name: string, o: { actor: string; emergency?: boolean; force?: boolean }): Promise<unknown>
  rollback(name: string, o: { actor: string }): Promise<unknown>
}

export interface AuthApi {
  authenticate(token: string): Promise<ApiToken | undefined>
}

export interface ServerDeps {
  keys: KeysApi
  secrets: SecretsApi
  rotations?: RotationsApi
  audit: { read(q: AuditQuery & { limit?: number }): Promise<AuditEvent[]> }
  auth: AuthApi
  clock: Clock
  /** Whether the backend is reachable and migrated (for /readyz). */
  ready(): Promise<{ ok: boolean; checks: Record<string, string> }>
  /** Counts and ages of keys for /metrics (computed by the backend, not by listing every key). */
  keyStats?(): Promise<{ active: number; revoked: number; expired: number; oldestActiveAgeSeconds: number }>
  /** Legacy envault routes: the environment they serve and the optional ENVAULT_API_KEY. */
  legacy?: { env: string; apiKey?: string }
  log?: Logger
  limits?: Partial<Limits>
}

export interface Logger {
  info(o: object, msg?: string): void
  warn(o: object, msg?: string): void
  error(o: object, msg?: string): void
}

export interface Limits {
  bodyBytes: number
  urlBytes: number
  /** Failures allowed per address per window before 429. */
  authFailures: number
  authWindowMs: number
}

export const DEFAULT_LIMITS: Limits = { bodyBytes: 64 * 1024, urlBytes: 4096, authFailures: 20, authWindowMs: 60_000 }

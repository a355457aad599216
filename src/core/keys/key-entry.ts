/**
 * The data model of an apiauth key. Plaintext is never stored: only the SHA-256 hash of each
 * version and the first 20 characters (the "prefix shown") for identification.
 */
export type KeyType = 'api_key' | 'jwt'

export interface KeyVersion {
  version: number
  key_hash: string // sha256 hex of the full key (for a JWT: of the token)
  /** First 20 characters of this version's key (so a rollback can show the right one). */
  prefix_shown?: string
  created_at: string
  /**
   * Until when this version is still accepted after a rotation (previous versions only; null
   * for the current version). A time in the past means the version is retired.
   */
  grace_until: string | null
  /** Set when the version was revoked on its own (revokeVersion, or retired by a rollback). */
  revoked_at: string | null
  /** Folded in from the usage log when read; null until first verified. */
  last_used_at: string | null
  use_count: number
}

export interface KeyEntry {
  id: string // 12 lowercase hex
  type: KeyType
  name: string
  service: string
  prefix: string // the key's prefix, e.g. "ak" (kept across rotations)
  prefix_shown: string // first 20 characters of the current key
  /**
   * The current version's number. Version numbers only grow: after a rollback the current
   * version may be lower than the highest one on record (the next rotation uses max + 1).
   */
  version: number
  key_hash: string // current version's hash
  previous_hash: string | null
  created_at: string
  rotated_at: string | null
  expires_at: string | null
  revoked: boolean
  revoked_at: string | null
  rate_limit: number | null
  /** JWT only: claims given at generate time (never jti/iss/sub/exp). */
  claims?: Record<string, string>
  /** Every version on record, in creation order. The current one has `version === entry.version`. */
  versions: KeyVersion[]
}

/** Usage of one key version, recorded by verify; read by the rotation engine's idle gate. */
export interface KeyUsage {
  id: string
  version: number
  at: string
}

/** Per-version usage as reported by `KeysService.usage`. */
export interface VersionUsage {
  version: number
  current: boolean
  last_used_at: string | null
  use_count: number
  grace_until: string | null
  revoked_at: string | null
}

export function currentVersion(e: KeyEntry): KeyVersion | undefined {
  return e.versions.find((v) => v.version === e.version)
}

export function nextVersionNumber(e: KeyEntry): number {
  return e.versions.reduce((m, v) => Math.max(m, v.version), e.version) + 1
}

/** The lifecycle status of a key as a whole at `now` (audit/list use it). */
export type KeyHealth = 'active' | 'expired' | 'revoked'

export function keyHealth(e: KeyEntry, now: Date): KeyHealth {
  if (e.revoked) return 'revoked'
  if (e.expires_at !== null && new Date(e.expires_at).getTime() <= now.getTime()) return 'expired'
  return 'active'
}

/** A key's metadata for output (CLI `--json`, the HTTP API): never a hash, never a value. */
export function keyMetadata(e: KeyEntry, now: Date) {
  return {
    id: e.id,
    type: e.type,
    name: e.name,
    service: e.service,
    prefix_shown: e.prefix_shown,
    version: e.version,
    status: keyHealth(e, now),
    created_at: e.created_at,
    rotated_at: e.rotated_at,
    expires_at: e.expires_at,
    revoked: e.revoked,
    revoked_at: e.revoked_at,
  }
}

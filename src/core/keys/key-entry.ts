/**
 * The data model of an apiauth key. Plaintext is never stored: only the SHA-256 hash of each
 * version and the first 20 characters (the "prefix shown") for identification.
 */
export type KeyType = 'api_key' | 'jwt'

export interface KeyVersion {
  version: number
  key_hash: string // sha256 hex of the full key (for a JWT: of the token)
  created_at: string
  /** Until when this version is still accepted after a rotation (previous versions only). */
  grace_until: string | null
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
  /** Every version still on record, newest last; the current one is versions[versions.length-1]. */
  versions: KeyVersion[]
}

/** Usage of one key version, recorded by verify; read by the rotation engine's idle gate. */
export interface KeyUsage {
  id: string
  version: number
  at: string
}

import type { KeyEntry } from './key-entry.js'

export type VerifyStatus = 'VALID' | 'REVOKED' | 'EXPIRED' | 'INVALID'

/**
 * The outcome of verifying a key: a value, not an exception. `id` is present whenever the key
 * matched an entry (so a revoked or expired key can be named); an unknown key has no id.
 */
export interface VerifyResult {
  status: VerifyStatus
  id?: string
  version?: number
  /** A previous version accepted inside its grace window. */
  deprecated?: boolean
  /** When a deprecated version stops being accepted. */
  grace_until?: string
  /** Why a matched key is not valid (human text, never a secret). */
  reason?: string
  name?: string
  service?: string
  type?: KeyEntry['type']
}

/**
 * Decides the status of a matched key version at `now`. Pure: the caller has already found the
 * entry by hash (and, for a JWT, checked the signature).
 */
export function decideStatus(entry: KeyEntry, version: number, now: Date): VerifyResult {
  const base = { id: entry.id, version, name: entry.name, service: entry.service, type: entry.type }
  if (entry.revoked) return { status: 'REVOKED', ...base, reason: 'the key was revoked' }
  const v = entry.versions.find((x) => x.version === version)
  if (v === undefined) return { status: 'INVALID' }
  if (v.revoked_at !== null) return { status: 'REVOKED', ...base, reason: `version ${version} was revoked` }
  const t = now.getTime()
  if (entry.expires_at !== null && new Date(entry.expires_at).getTime() <= t) {
    return { status: 'EXPIRED', ...base, reason: `the key expired at ${entry.expires_at}` }
  }
  if (version === entry.version) return { status: 'VALID', ...base }
  if (v.grace_until !== null && new Date(v.grace_until).getTime() > t) {
    return { status: 'VALID', ...base, deprecated: true, grace_until: v.grace_until }
  }
  return { status: 'EXPIRED', ...base, reason: `version ${version} was rotated out${v.grace_until ? ` at ${v.grace_until}` : ''}` }
}

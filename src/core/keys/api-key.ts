import { sha256Hex } from '../crypto/hash.js'
import { randomBase64Url, randomHex } from '../crypto/generate.js'
import { usageError } from '../errors.js'
import type { Random } from '../ports.js'

/** The default key prefix: keys look like `ak_<43 base64url characters>`. */
export const DEFAULT_PREFIX = 'ak'
/** How many leading characters of a key are stored to identify it (never enough to use it). */
export const PREFIX_SHOWN_LENGTH = 20
const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/
const ID_RE = /^[0-9a-f]{12}$/

/** Checks a `--prefix` value: 1–32 letters, digits, `_` or `-`, starting with a letter or digit. */
export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw usageError(`invalid --prefix: use 1-32 letters, digits, "_" or "-", starting with a letter or digit`)
  }
  return prefix
}

/** A new key id: 12 lowercase hex characters (48 random bits; the store checks for clashes). */
export function newKeyId(random: Random): string {
  return randomHex(random, 6)
}

export function isKeyId(s: string): boolean {
  return ID_RE.test(s)
}

/**
 * A new API key: `<prefix>_` followed by base64url of 32 random bytes.
 *
 * Draws are repeated (rejection sampling, about 1 in 10) until the random part holds no `v`
 * followed by a digit: seed 001's CI job reads the version from `apiauth rotate` output with
 * `grep -oP 'v\K[0-9]+'`, which would also match inside such a key. The cost is under 0.2 bits
 * of the 256, and the accepted keys stay uniformly distributed.
 */
export function newApiKey(random: Random, prefix: string = DEFAULT_PREFIX): string {
  for (;;) {
    const body = randomBase64Url(random, 32)
    if (!/v[0-9]/.test(body)) return `${prefix}_${body}`
  }
}

/** The SHA-256 (hex) under which a key or token is stored and looked up. */
export function hashKey(key: string): string {
  return sha256Hex(key)
}

export function prefixShown(key: string): string {
  return key.slice(0, PREFIX_SHOWN_LENGTH)
}

/** The prefix of an imported key (`sk_live_…` → `sk_live`), or the default when it has none. */
export function prefixOf(key: string): string {
  const i = key.lastIndexOf('_')
  if (i <= 0) return DEFAULT_PREFIX
  const p = key.slice(0, i)
  return PREFIX_RE.test(p) ? p : DEFAULT_PREFIX
}

/** Looks like a compact JWS (three base64url segments, the first a JSON header). */
export function looksLikeJwt(s: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(s)
}

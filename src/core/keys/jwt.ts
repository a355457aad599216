import { SignJWT, errors as joseErrors, jwtVerify } from 'jose'
import { usageError } from '../errors.js'

/** Issuer of every token apiauth signs. */
export const JWT_ISSUER = 'apiauth'
/** Claims a user may not set with `--claim`: they carry the token's identity and lifetime. */
export const RESERVED_CLAIMS = new Set(['jti', 'iss', 'sub', 'exp', 'iat', 'nbf'])

/** Parses `--claim k=v` values; refuses reserved claims and malformed pairs, naming the claim. */
export function parseClaims(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const i = p.indexOf('=')
    if (i <= 0) throw usageError(`invalid --claim "${p}": use key=value`)
    const k = p.slice(0, i).trim()
    if (k === '') throw usageError(`invalid --claim "${p}": use key=value`)
    if (RESERVED_CLAIMS.has(k)) throw usageError(`--claim cannot set "${k}": jti, iss, sub, exp, iat and nbf are set by apiauth`)
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw usageError(`invalid --claim name "${k}"`)
    out[k] = p.slice(i + 1)
  }
  return out
}

export interface SignOptions {
  id: string
  version: number
  secret: Uint8Array
  now: Date
  expiresAt: string | null
  claims: Record<string, string>
}

/**
 * Signs an HS256 token for a key version. `sub` is the key id and `jti` is `<id>.v<version>`;
 * custom claims are applied first so they can never replace these.
 */
export async function signToken(o: SignOptions): Promise<string> {
  const safeClaims: Record<string, string> = {}
  for (const [k, v] of Object.entries(o.claims)) if (!RESERVED_CLAIMS.has(k)) safeClaims[k] = v
  let jwt = new SignJWT(safeClaims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(JWT_ISSUER)
    .setSubject(o.id)
    .setJti(`${o.id}.v${o.version}`)
    .setIssuedAt(Math.floor(o.now.getTime() / 1000))
  if (o.expiresAt !== null) jwt = jwt.setExpirationTime(Math.floor(new Date(o.expiresAt).getTime() / 1000))
  return jwt.sign(o.secret)
}

export type TokenCheck = { ok: true } | { ok: false; status: 'EXPIRED' | 'INVALID'; reason: string }

/**
 * Checks a token's signature (HS256 only: `alg: none` and every other algorithm are refused),
 * issuer, expiry at `now`, and that `sub` and `jti` name the key version it was stored under.
 */
export async function checkToken(token: string, o: { id: string; version: number; secret: Uint8Array; now: Date }): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, o.secret, {
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      subject: o.id,
      currentDate: o.now,
    })
    if (payload.jti !== `${o.id}.v${o.version}`) return { ok: false, status: 'INVALID', reason: 'the token id does not match the key' }
    return { ok: true }
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) return { ok: false, status: 'EXPIRED', reason: 'the token has expired' }
    return { ok: false, status: 'INVALID', reason: 'bad signature or claims' }
  }
}

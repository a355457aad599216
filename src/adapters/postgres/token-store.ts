import { AppError } from '../../core/errors.js'
import { sha256Hex } from '../../core/crypto/hash.js'
import { constantTimeEqual } from '../../core/crypto/compare.js'
import type { Clock, Random } from '../../core/ports.js'
import { notifyChange, pgError, schemaOf, type Pool } from './db.js'

/**
 * Scopes of an API token for `rekey serve`:
 * - `admin`: everything;
 * - `keys:verify`: POST /v1/keys/verify and usage reports;
 * - `keys:read`, `keys:write`: key metadata, and create/rotate/revoke;
 * - `env:<env>:read`, `env:<env>:write` (`*` for every environment);
 * - `rotations:read`, `rotations:write`, `audit:read`.
 */
export const SCOPE_RE = /^(admin|keys:(verify|read|write)|rotations:(read|write)|audit:read|env:(\*|[A-Za-z0-9_.-]{1,64}):(read|write))$/

export interface ApiToken {
  id: string
  name: string
  scopes: string[]
  created_at: string
  created_by: string
  last_used_at: string | null
  revoked_at: string | null
}

export interface TokenStore {
  /** Creates a token; the plaintext is returned once and never stored. */
  create(o: { name: string; scopes: string[]; actor: string }): Promise<{ token: string; info: ApiToken }>
  list(): Promise<ApiToken[]>
  revoke(id: string): Promise<ApiToken>
  /** Resolves a presented token, or undefined when it is unknown, malformed or revoked. */
  authenticate(token: string): Promise<ApiToken | undefined>
}

export const TOKEN_PREFIX = 'rkt_'
const TOKEN_RE = /^rkt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

export function parseScopes(scopes: readonly string[]): string[] {
  const bad = scopes.filter((s) => !SCOPE_RE.test(s))
  if (bad.length) {
    throw new AppError('USAGE', `invalid scope ${bad.map((s) => JSON.stringify(s.slice(0, 80))).join(', ')}`, {
      hint: 'scopes: admin, keys:verify, keys:read, keys:write, env:<env>:read, env:<env>:write, rotations:read, rotations:write, audit:read',
    })
  }
  if (scopes.length === 0) throw new AppError('USAGE', 'a token needs at least one --scope')
  return [...new Set(scopes)]
}

/** Whether a token's scopes grant `needed` (e.g. "env:prod:read"); write implies read. */
export function hasScope(scopes: readonly string[], needed: string): boolean {
  if (scopes.includes('admin') || scopes.includes(needed)) return true
  const m = /^env:([^:]+):(read|write)$/.exec(needed)
  if (m) {
    const [, env, mode] = m
    const ok = (e: string) => scopes.includes(`env:${e}:${mode}`) || (mode === 'read' && scopes.includes(`env:${e}:write`))
    return ok(env!) || ok('*')
  }
  if (needed === 'keys:read') return scopes.includes('keys:write')
  if (needed === 'keys:verify') return scopes.includes('keys:write')
  if (needed === 'rotations:read') return scopes.includes('rotations:write')
  return false
}

interface Row {
  id: string
  name: string
  token_hash: string
  scopes: string[]
  created_at: Date
  created_by: string
  last_used_at: Date | null
  revoked_at: Date | null
}

const info = (r: Row): ApiToken => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes,
  created_at: r.created_at.toISOString(),
  created_by: r.created_by,
  last_used_at: r.last_used_at?.toISOString() ?? null,
  revoked_at: r.revoked_at?.toISOString() ?? null,
})

/**
 * Tokens look like `rkt_<id>_<secret>`. Only the SHA-256 of the whole token is stored; lookup is
 * by the public id and the hash is then compared in constant time, so response timing says
 * nothing about how much of a guess was right.
 */
export function createPgTokenStore(pool: Pool, o: { clock: Clock; random: Random }): TokenStore {
  const schema = schemaOf(pool)
  return {
    async create({ name, scopes, actor }) {
      if (!/^[\p{L}\p{N} _.:@/-]{1,80}$/u.test(name)) throw new AppError('USAGE', 'invalid token name (1-80 letters, digits, space, _.:@/-)')
      const sc = parseScopes(scopes)
      const id = o.random.bytes(8).toString('hex')
      const token = `${TOKEN_PREFIX}${id}_${o.random.bytes(32).toString('base64url')}`
      try {
        const r = await pool.query<Row>(
          'INSERT INTO api_tokens (id, name, token_hash, scopes, created_at, created_by) VALUES ($1,$2,$3,$4,$5,$6) RETURNING *',
          [`tok_${id}`, name, sha256Hex(token), sc, o.clock.now(), actor],
        )
        return { token, info: info(r.rows[0]!) }
      } catch (e) {
        throw pgError('create token', e)
      }
    },
    async list() {
      try {
        return (await pool.query<Row>('SELECT * FROM api_tokens ORDER BY created_at, id')).rows.map(info)
      } catch (e) {
        throw pgError('list tokens', e)
      }
    },
    async revoke(id) {
      let r
      try {
        r = await pool.query<Row>('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING *', [id, o.clock.now()])
        await notifyChange(pool, schema, { kind: 'token', id })
      } catch (e) {
        throw pgError('revoke token', e)
      }
      const row = r.rows[0]
      if (!row) throw new AppError('NOT_FOUND', `no token ${id.slice(0, 40)}`)
      return info(row)
    },
    async authenticate(token) {
      const m = TOKEN_RE.exec(token)
      if (!m) return undefined
      let row: Row | undefined
      try {
        row = (await pool.query<Row>('SELECT * FROM api_tokens WHERE id = $1', [`tok_${m[1]}`])).rows[0]
      } catch (e) {
        throw pgError('read token', e)
      }
      if (!row || !constantTimeEqual(sha256Hex(token), row.token_hash) || row.revoked_at !== null) return undefined
      return info(row)
    },
  }
}

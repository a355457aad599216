import type { AuditEventInput, AuditLog } from '../core/audit/audit-event.js'
import { last4 } from '../core/audit/mask.js'
import { AppError, usageError } from '../core/errors.js'
import {
  DEFAULT_PREFIX,
  hashKey,
  isKeyId,
  newApiKey,
  newKeyId,
  prefixOf,
  prefixShown,
  validatePrefix,
} from '../core/keys/api-key.js'
import { currentVersion, keyHealth, nextVersionNumber, type KeyEntry, type KeyType, type KeyVersion, type VersionUsage } from '../core/keys/key-entry.js'
import type { KeyRepository, SigningKeyStore } from '../core/keys/ports.js'
import { decideStatus, type VerifyResult } from '../core/keys/verify.js'
import type { Clock, Random } from '../core/ports.js'

export type { VerifyResult, VerifyStatus } from '../core/keys/verify.js'

/** Who started a change: a person (`manual`) or the rotation engine (`auto`). Goes to the audit log. */
export type Trigger = 'manual' | 'auto'

const DAY_MS = 86_400_000
/** Default grace window of the previous version after a rotation. */
export const DEFAULT_GRACE_MS = DAY_MS
const MAX_EXPIRY_DAYS = 36_500
const MAX_NAME = 200

export interface KeysServiceDeps {
  repo: KeyRepository
  signing: SigningKeyStore
  audit: Pick<AuditLog, 'append'>
  clock: Clock
  random: Random
  /** Default actor of audit events. */
  actor: string
  /** Present for stores that keep a previous generation (the file keystore). */
  recovery?: { recover(beforeCommit?: (r: { restoredFrom: string; keys: number }) => Promise<void>): Promise<{ restoredFrom: string; damagedKeptAs: string; keys: number }> }
}

export interface GenerateApiKeyOptions {
  name: string
  service: string
  expiryDays?: number
  rateLimit?: number
  prefix?: string
  trigger?: Trigger
}

export interface GenerateJwtOptions {
  name: string
  service: string
  expiryDays?: number
  /** Custom claims; jti/iss/sub/exp/iat/nbf are refused. */
  claims?: Record<string, string>
  trigger?: Trigger
}

export interface ImportKeyOptions {
  key: string
  name: string
  service: string
  expiryDays?: number
  trigger?: Trigger
}

export interface RotateOptions {
  /** Restarts the expiry clock: the key expires this many days from now. */
  expiryDays?: number
  /** How long the previous version keeps verifying (as deprecated). Default 24 h; 0 ends it at once. */
  graceMs?: number
  trigger?: Trigger
}

/** A key as issued: the plaintext `key` exists only in this value, never in the store. */
export interface IssuedKey {
  entry: KeyEntry
  key: string
}

export interface ListOptions {
  service?: string
  /** Include expired and revoked keys (default: active keys only). */
  all?: boolean
}

export type VersionState = 'current' | 'grace' | 'retired' | 'revoked'

export interface HistoryItem extends VersionUsage {
  created_at: string
  state: VersionState
  prefix_shown: string | null
}

export interface HealthItem {
  id: string
  name: string
  service: string
  /** expires_at for expired/expiring keys, revoked_at for revoked ones. */
  at: string
}

export interface HealthReport {
  total: number
  expired: HealthItem[]
  expiring: HealthItem[]
  revoked: HealthItem[]
  healthy: boolean
}

export interface KeyStats {
  total: number
  active: number
  expired: number
  revoked: number
  api_keys: number
  jwts: number
  rotations: number
  by_service: Record<string, number>
}

export interface KeysService {
  generateApiKey(o: GenerateApiKeyOptions): Promise<IssuedKey>
  generateJwt(o: GenerateJwtOptions): Promise<IssuedKey>
  importKey(o: ImportKeyOptions): Promise<{ entry: KeyEntry }>
  rotate(id: string, o?: RotateOptions): Promise<IssuedKey>
  /** Checks a key or token. Never throws for a bad key: the outcome is a value. Records usage when VALID. */
  verify(key: string): Promise<VerifyResult>
  /** Revokes every version of a key, for good. */
  revoke(id: string, o?: { trigger?: Trigger }): Promise<KeyEntry>
  /** Ends a previous version's grace now (idempotent). Refuses the current version. */
  revokeVersion(id: string, version: number, o?: { trigger?: Trigger }): Promise<KeyEntry>
  /** Makes the previous (not revoked) version current again and revokes the newest one. */
  rollback(id: string, o?: { trigger?: Trigger }): Promise<KeyEntry>
  /** The entry, or KEY_NOT_FOUND. */
  get(id: string): Promise<KeyEntry>
  list(o?: ListOptions): Promise<KeyEntry[]>
  /** The version timeline, oldest first. */
  history(id: string): Promise<HistoryItem[]>
  /** Per-version usage, oldest first; the rotation engine's idle gate reads `last_used_at`. */
  usage(id: string): Promise<VersionUsage[]>
  stats(): Promise<KeyStats>
  /** Expired, expiring (within `withinMs`) and revoked keys. */
  health(withinMs: number): Promise<HealthReport>
  /** Active keys for export (metadata only), oldest first. */
  exportable(o?: { service?: string }): Promise<KeyEntry[]>
  /** Restores the previous generation of a damaged store (file backend). */
  recover(): Promise<{ restoredFrom: string; damagedKeptAs: string; keys: number }>
  /** Flushes buffered usage records. */
  close(): Promise<void>
}

function checkText(value: string, flag: string): string {
  if (value.trim() === '') throw usageError(`${flag} must not be empty`)
  if (value.length > MAX_NAME) throw usageError(`${flag} is too long (at most ${MAX_NAME} characters)`)
  return value
}

function checkExpiryDays(d: number | undefined): number | undefined {
  if (d === undefined) return undefined
  if (!Number.isFinite(d) || d <= 0 || d > MAX_EXPIRY_DAYS) throw usageError(`invalid --expiry-days ${d}: use a number of days from 1 to ${MAX_EXPIRY_DAYS}`)
  return d
}

function checkId(id: string): string {
  if (!isKeyId(id)) throw new AppError('KEY_NOT_FOUND', `key ${id} not found (a key id is 12 lowercase hex characters)`)
  return id
}

const resource = (t: KeyType): string => (t === 'jwt' ? 'jwt' : 'api_key')

/**
 * The apiauth use cases. Every change appends its audit event before the store commits (the
 * repository's `beforeCommit`), so a change whose event cannot be written does not happen.
 * Verification is the hot path: one hash, one index lookup, no audit event (usage is recorded
 * instead, cheaply).
 */
export function createKeysService(d: KeysServiceDeps): KeysService {
  const { repo, signing, clock, random } = d
  const now = () => clock.now()
  const iso = (t: Date) => t.toISOString()
  const audit = async (e: AuditEventInput) => {
    await d.audit.append({ actor: d.actor, ...e })
  }
  const expiryFrom = (t: Date, days: number | undefined): string | null => (days === undefined ? null : iso(new Date(t.getTime() + days * DAY_MS)))

  const mustGet = (e: KeyEntry | undefined, id: string): KeyEntry => {
    if (!e) throw new AppError('KEY_NOT_FOUND', `key ${id} not found`)
    return e
  }

  const newVersion = (version: number, key: string, at: string): KeyVersion => ({
    version,
    key_hash: hashKey(key),
    prefix_shown: prefixShown(key),
    created_at: at,
    grace_until: null,
    revoked_at: null,
    last_used_at: null,
    use_count: 0,
  })

  const freshEntry = (o: { id: string; type: KeyType; name: string; service: string; prefix: string; key: string; at: string; expires_at: string | null; rate_limit: number | null; claims?: Record<string, string> }): KeyEntry => ({
    id: o.id,
    type: o.type,
    name: o.name,
    service: o.service,
    prefix: o.prefix,
    prefix_shown: prefixShown(o.key),
    version: 1,
    key_hash: hashKey(o.key),
    previous_hash: null,
    created_at: o.at,
    rotated_at: null,
    expires_at: o.expires_at,
    revoked: false,
    revoked_at: null,
    rate_limit: o.rate_limit,
    ...(o.claims ? { claims: o.claims } : {}),
    versions: [newVersion(1, o.key, o.at)],
  })

  const jwt = () => import('../core/keys/jwt.js')

  // A new key's id is drawn before its transaction, which then reads only that id (no store-wide
  // read on PostgreSQL). The rare id already in use is refused inside the transaction and redrawn.
  const idTaken = (id: string) => new AppError('CONFLICT', `key id ${id} is taken; try again`, { retryable: true })
  const withFreshId = async <T>(create: (id: string) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const id = newKeyId(random)
      try {
        return await create(id)
      } catch (e) {
        const taken = e instanceof AppError && e.code === 'CONFLICT' && e.message === idTaken(id).message
        if (!taken || attempt >= 5) throw e
      }
    }
  }

  const service: KeysService = {
    async generateApiKey(o) {
      const name = checkText(o.name, '--name')
      const svc = checkText(o.service, '--service')
      const days = checkExpiryDays(o.expiryDays)
      const prefix = validatePrefix(o.prefix ?? DEFAULT_PREFIX)
      if (o.rateLimit !== undefined && (!Number.isInteger(o.rateLimit) || o.rateLimit <= 0)) throw usageError(`invalid --rate-limit ${o.rateLimit}: use a positive whole number`)
      const key = newApiKey(random, prefix)
      return withFreshId((id) =>
        repo.mutate(
          (tx) => {
            if (tx.has(id)) throw idTaken(id)
            const t = now()
            const entry = freshEntry({ id, type: 'api_key', name, service: svc, prefix, key, at: iso(t), expires_at: expiryFrom(t, days), rate_limit: o.rateLimit ?? null })
            tx.put(entry)
            return { entry, key }
          },
          ({ entry }) =>
            audit({
              action: 'api_key.create',
              target: entry.id,
              detail: { name: entry.name, service: entry.service, version: 1, new_last4: last4(key), expires_at: entry.expires_at, trigger: o.trigger ?? 'manual' },
            }),
          { ids: [id] },
        ),
      )
    },

    async generateJwt(o) {
      const name = checkText(o.name, '--name')
      const svc = checkText(o.service, '--service')
      const days = checkExpiryDays(o.expiryDays)
      const { parseClaims, signToken } = await jwt()
      // Re-validate programmatic claims with the CLI's rules (reserved names are refused).
      const claims = parseClaims(Object.entries(o.claims ?? {}).map(([k, v]) => `${k}=${v}`))
      const id = newKeyId(random)
      const secret = await signing.getOrCreate(id)
      const t = now()
      const expires_at = expiryFrom(t, days)
      const token = await signToken({ id, version: 1, secret, now: t, expiresAt: expires_at, claims })
      return repo.mutate(
        (tx) => {
          if (tx.has(id)) throw idTaken(id)
          const entry = freshEntry({ id, type: 'jwt', name, service: svc, prefix: 'jwt', key: token, at: iso(t), expires_at, rate_limit: null, claims })
          tx.put(entry)
          return { entry, key: token }
        },
        ({ entry }) =>
          audit({
            action: 'jwt.create',
            target: entry.id,
            detail: { name: entry.name, service: entry.service, version: 1, new_last4: last4(token), expires_at, trigger: o.trigger ?? 'manual' },
          }),
        { ids: [id] },
      )
    },

    async importKey(o) {
      const name = checkText(o.name, '--name')
      const svc = checkText(o.service, '--service')
      const days = checkExpiryDays(o.expiryDays)
      const key = o.key
      if (key.length < 16) throw usageError('the key to import is too short (at least 16 characters)')
      if (key.length > 4096 || /[\s\u0000-\u001f\u007f]/.test(key)) throw usageError('the key to import must be one line of at most 4096 characters without spaces')
      return withFreshId((id) =>
        repo.mutate(
          (tx) => {
            if (tx.has(id)) throw idTaken(id)
            const t = now()
            const entry = freshEntry({ id, type: 'api_key', name, service: svc, prefix: prefixOf(key), key, at: iso(t), expires_at: expiryFrom(t, days), rate_limit: null })
            tx.put(entry) // refuses a key already in the store (ALREADY_EXISTS)
            return { entry }
          },
          ({ entry }) =>
            audit({
              action: 'api_key.import',
              target: entry.id,
              detail: { name: entry.name, service: entry.service, version: 1, new_last4: last4(key), expires_at: entry.expires_at, trigger: o.trigger ?? 'manual' },
            }),
          { ids: [id] },
        ),
      )
    },

    async rotate(id, o = {}) {
      checkId(id)
      const days = checkExpiryDays(o.expiryDays)
      const graceMs = o.graceMs ?? DEFAULT_GRACE_MS
      if (!Number.isFinite(graceMs) || graceMs < 0) throw usageError(`invalid --grace: use a duration such as 0, 1h or 24h`)
      const before = mustGet(await repo.get(id), id)
      const secret = before.type === 'jwt' ? await signing.get(id) : undefined
      if (before.type === 'jwt' && !secret) throw new AppError('STORE_CORRUPT', `the signing key of ${id} is missing from the keystore`)
      const signer = before.type === 'jwt' ? await jwt() : undefined
      let oldVersion = 0
      return repo.mutate(
        async (tx) => {
          const e = mustGet(tx.get(id), id)
          if (e.revoked) throw new AppError('KEY_REVOKED', `key ${id} is revoked and cannot be rotated; generate a new key`)
          const t = now()
          const n = nextVersionNumber(e)
          const expires_at = days === undefined ? e.expires_at : expiryFrom(t, days)
          const key =
            e.type === 'jwt'
              ? await signer!.signToken({ id, version: n, secret: secret!, now: t, expiresAt: expires_at, claims: e.claims ?? {} })
              : newApiKey(random, e.prefix)
          const graceUntil = iso(new Date(t.getTime() + graceMs))
          oldVersion = e.version
          const entry: KeyEntry = {
            ...e,
            version: n,
            key_hash: hashKey(key),
            previous_hash: e.key_hash,
            prefix_shown: prefixShown(key),
            rotated_at: iso(t),
            expires_at,
            versions: [...e.versions.map((v) => (v.version === e.version ? { ...v, grace_until: graceUntil } : v)), newVersion(n, key, iso(t))],
          }
          tx.put(entry)
          return { entry, key }
        },
        ({ entry, key }) =>
          audit({
            action: `${resource(entry.type)}.rotate`,
            target: entry.id,
            detail: {
              version: entry.version,
              previous_version: oldVersion,
              new_last4: last4(key),
              grace_until: entry.versions.find((v) => v.version === oldVersion)?.grace_until ?? null,
              expires_at: entry.expires_at,
              trigger: o.trigger ?? 'manual',
            },
          }),
        { ids: [id] },
      )
    },

    async verify(key) {
      const k = key.trim()
      if (k.length === 0 || k.length > 8192) return { status: 'INVALID' }
      const hit = await repo.findByHash(hashKey(k))
      if (!hit) return { status: 'INVALID' }
      const { entry, version } = hit
      const t = now()
      let r = decideStatus(entry, version, t)
      if (r.status === 'VALID' && entry.type === 'jwt') {
        const secret = await signing.get(entry.id)
        const check = secret ? await (await jwt()).checkToken(k, { id: entry.id, version, secret, now: t }) : ({ ok: false, status: 'INVALID', reason: 'no signing key' } as const)
        if (!check.ok) r = { status: check.status, id: entry.id, version, name: entry.name, service: entry.service, type: entry.type, reason: check.reason }
      }
      // A VALID use feeds the idle gate; a REVOKED one (the presenter holds a real, retired credential)
      // is recorded too, so the rotation engine can report "revoked credential presented".
      if (r.status === 'VALID' || r.status === 'REVOKED') await repo.recordUse({ id: entry.id, version, at: iso(t) })
      return r
    },

    async revoke(id, o = {}) {
      checkId(id)
      return repo.mutate(
        (tx) => {
          const e = mustGet(tx.get(id), id)
          if (e.revoked) throw new AppError('KEY_REVOKED', `key ${id} is already revoked`)
          const entry: KeyEntry = { ...e, revoked: true, revoked_at: iso(now()) }
          tx.put(entry)
          return entry
        },
        (entry) => audit({ action: `${resource(entry.type)}.revoke`, target: entry.id, detail: { version: entry.version, trigger: o.trigger ?? 'manual' } }),
        { ids: [id] },
      )
    },

    async revokeVersion(id, version, o = {}) {
      checkId(id)
      let changed = false
      const result = await repo.mutate(
        (tx) => {
          const e = mustGet(tx.get(id), id)
          const v = e.versions.find((x) => x.version === version)
          if (!v) throw new AppError('NOT_FOUND', `key ${id} has no version ${version}`)
          if (version === e.version) throw usageError(`version ${version} is the current version of ${id}: rotate first, or revoke the whole key`)
          if (v.revoked_at !== null) return e
          const at = iso(now())
          const entry: KeyEntry = {
            ...e,
            versions: e.versions.map((x) => (x.version === version ? { ...x, revoked_at: at, grace_until: x.grace_until !== null && x.grace_until < at ? x.grace_until : at } : x)),
          }
          tx.put(entry)
          changed = true
          return entry
        },
        async (entry) => {
          if (changed) await audit({ action: `${resource(entry.type)}.revoke_version`, target: entry.id, detail: { version, trigger: o.trigger ?? 'manual' } })
        },
        { ids: [id] },
      )
      return result
    },

    async rollback(id, o = {}) {
      checkId(id)
      let retired = 0
      return repo.mutate(
        (tx) => {
          const e = mustGet(tx.get(id), id)
          if (e.revoked) throw new AppError('KEY_REVOKED', `key ${id} is revoked and cannot be rolled back`)
          const prev = e.versions
            .filter((v) => v.version < e.version && v.revoked_at === null)
            .sort((a, b) => b.version - a.version)[0]
          if (!prev) throw new AppError('CONFLICT', `key ${id} has no earlier version to roll back to`)
          const at = iso(now())
          retired = e.version
          const entry: KeyEntry = {
            ...e,
            version: prev.version,
            key_hash: prev.key_hash,
            previous_hash: null,
            prefix_shown: prev.prefix_shown ?? e.prefix_shown,
            versions: e.versions.map((v) =>
              v.version === e.version ? { ...v, revoked_at: at, grace_until: at } : v.version === prev.version ? { ...v, grace_until: null } : v,
            ),
          }
          tx.put(entry)
          return entry
        },
        (entry) =>
          audit({ action: `${resource(entry.type)}.rollback`, target: entry.id, detail: { version: entry.version, retired_version: retired, trigger: o.trigger ?? 'manual' } }),
        { ids: [id] },
      )
    },

    async get(id) {
      checkId(id)
      return mustGet(await repo.get(id), id)
    },

    async list(o = {}) {
      const t = now()
      return (await repo.list())
        .filter((e) => (o.service === undefined || e.service === o.service) && (o.all === true || keyHealth(e, t) === 'active'))
        .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
    },

    async history(id) {
      const e = await service.get(id)
      const t = iso(now())
      return [...e.versions]
        .sort((a, b) => a.version - b.version)
        .map((v) => ({
          version: v.version,
          current: v.version === e.version,
          created_at: v.created_at,
          state: v.revoked_at !== null ? 'revoked' : v.version === e.version ? 'current' : v.grace_until !== null && v.grace_until > t ? 'grace' : 'retired',
          prefix_shown: v.prefix_shown ?? (v.version === e.version ? e.prefix_shown : null),
          last_used_at: v.last_used_at,
          use_count: v.use_count,
          grace_until: v.grace_until,
          revoked_at: v.revoked_at,
        }))
    },

    async usage(id) {
      return (await service.history(id)).map(({ version, current, last_used_at, use_count, grace_until, revoked_at }) => ({ version, current, last_used_at, use_count, grace_until, revoked_at }))
    },

    async stats() {
      const t = now()
      const all = await repo.list()
      const s: KeyStats = { total: all.length, active: 0, expired: 0, revoked: 0, api_keys: 0, jwts: 0, rotations: 0, by_service: {} }
      for (const e of all) {
        s[keyHealth(e, t)]++
        if (e.type === 'jwt') s.jwts++
        else s.api_keys++
        s.rotations += e.versions.length - 1
        s.by_service[e.service] = (s.by_service[e.service] ?? 0) + 1
      }
      return s
    },

    async health(withinMs) {
      const t = now()
      const horizon = t.getTime() + withinMs
      const all = await service.list({ all: true })
      const item = (e: KeyEntry, at: string): HealthItem => ({ id: e.id, name: e.name, service: e.service, at })
      const r: HealthReport = { total: all.length, expired: [], expiring: [], revoked: [], healthy: true }
      for (const e of all) {
        const h = keyHealth(e, t)
        if (h === 'revoked') r.revoked.push(item(e, e.revoked_at ?? e.created_at))
        else if (h === 'expired') r.expired.push(item(e, e.expires_at!))
        else if (e.expires_at !== null && new Date(e.expires_at).getTime() <= horizon) r.expiring.push(item(e, e.expires_at))
      }
      r.expiring.sort((a, b) => a.at.localeCompare(b.at))
      r.healthy = r.expired.length + r.expiring.length + r.revoked.length === 0
      return r
    },

    async exportable(o = {}) {
      return service.list({ ...(o.service === undefined ? {} : { service: o.service }) })
    },

    async recover() {
      if (!d.recovery) throw new AppError('NOT_CONFIGURED', 'this key store keeps no previous generation to recover from')
      return d.recovery.recover((r) => audit({ action: 'keystore.recover', target: 'keystore', detail: { restored_from: r.restoredFrom, keys: r.keys, trigger: 'manual' } }))
    },

    async close() {
      await repo.close()
    },
  }
  return service
}

/** The current version record of an entry (re-exported for callers of the service). */
export { currentVersion }

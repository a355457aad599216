import { describe, expect, it } from 'vitest'
import { SignJWT, UnsecuredJWT, decodeJwt } from 'jose'
import type { AuditEvent, AuditEventInput } from '../core/audit/audit-event.js'
import { hashKey } from '../core/keys/api-key.js'
import { createMemoryKeyRepository, createMemorySigningKeyStore } from '../core/keys/testing.js'
import { createFakeClock, systemRandom } from '../adapters/system/system.js'
import { createKeysService } from './keys-service.js'

function setup() {
  const repo = createMemoryKeyRepository()
  const signing = createMemorySigningKeyStore()
  const clock = createFakeClock('2026-01-01T00:00:00Z')
  const events: AuditEventInput[] = []
  let failAudit = false
  const audit = {
    async append(e: AuditEventInput) {
      if (failAudit) throw Object.assign(new Error('audit down'), { code: 'AUDIT_WRITE_FAILED' })
      events.push(e)
      return e as unknown as AuditEvent
    },
  }
  const svc = createKeysService({ repo, signing, audit, clock, random: systemRandom, actor: 'tester' })
  return { repo, signing, clock, events, svc, failAudit: () => (failAudit = true) }
}

const HOUR = 3_600_000

describe('keys service: API keys', () => {
  it('generates a prefixed key, stores only its hash and first 20 characters, and audits it masked', async () => {
    const { svc, repo, events } = setup()
    const { entry, key } = await svc.generateApiKey({ name: 'Prod', service: 'api-gateway', expiryDays: 90, prefix: 'sk_live' })
    expect(key).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/)
    expect(entry.id).toMatch(/^[0-9a-f]{12}$/)
    expect(entry.key_hash).toBe(hashKey(key))
    expect(entry.prefix_shown).toBe(key.slice(0, 20))
    expect(entry.expires_at).toBe('2026-04-01T00:00:00.000Z')
    expect(JSON.stringify(await repo.list())).not.toContain(key)
    expect(events).toEqual([expect.objectContaining({ action: 'api_key.create', target: entry.id, actor: 'tester' })])
    expect(events[0]!.detail).toMatchObject({ new_last4: `…${key.slice(-4)}`, version: 1, trigger: 'manual' })
    expect(JSON.stringify(events)).not.toContain(key)
  })

  it('draws a new key id before its transaction and redraws one already in use (the transaction reads only that id)', async () => {
    const repo = createMemoryKeyRepository()
    const ids = ['aaaaaaaaaaaa', 'aaaaaaaaaaaa', 'aaaaaaaaaaaa', 'bbbbbbbbbbbb']
    const random = { bytes: (n: number) => (n === 6 && ids.length > 0 ? Buffer.from(ids.shift()!, 'hex') : systemRandom.bytes(n)) }
    const events: AuditEventInput[] = []
    const audit = { append: async (e: AuditEventInput) => (events.push(e), e as unknown as AuditEvent) }
    const svc = createKeysService({ repo, signing: createMemorySigningKeyStore(), audit, clock: createFakeClock('2026-01-01T00:00:00Z'), random, actor: 'tester' })
    expect((await svc.generateApiKey({ name: 'a', service: 's' })).entry.id).toBe('aaaaaaaaaaaa')
    expect((await svc.importKey({ name: 'b', service: 's', key: 'imported_key_0123456789' })).entry.id).toBe('bbbbbbbbbbbb')
    expect(ids).toEqual([])
    expect(events.map((e) => e.target)).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb'])
  })

  it('never puts "v<digit>" in a generated key (seed 001 greps the version out of rotate output)', async () => {
    const { svc } = setup()
    for (let i = 0; i < 200; i++) expect((await svc.generateApiKey({ name: 'n', service: 's' })).key.slice(3)).not.toMatch(/v[0-9]/)
  })

  it('refuses bad input with usage errors naming the flag', async () => {
    const { svc } = setup()
    await expect(svc.generateApiKey({ name: '', service: 's' })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('--name') })
    await expect(svc.generateApiKey({ name: 'n', service: ' ' })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('--service') })
    await expect(svc.generateApiKey({ name: 'n', service: 's', expiryDays: -1 })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('--expiry-days') })
    await expect(svc.generateApiKey({ name: 'n', service: 's', prefix: 'bad prefix' })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('--prefix') })
    await expect(svc.generateApiKey({ name: 'n', service: 's', rateLimit: 1.5 })).rejects.toMatchObject({ code: 'USAGE' })
  })

  it('rotates: new version, previous hash, rotated_at, same prefix, expiry restarted, previous version deprecated during grace', async () => {
    const { svc, clock, events } = setup()
    const { entry, key: k1 } = await svc.generateApiKey({ name: 'n', service: 's', expiryDays: 10, prefix: 'pk' })
    clock.advance(5 * 24 * HOUR)
    const { entry: e2, key: k2 } = await svc.rotate(entry.id, { expiryDays: 90 })
    expect(k2).toMatch(/^pk_/)
    expect(e2).toMatchObject({ version: 2, previous_hash: hashKey(k1), key_hash: hashKey(k2), rotated_at: '2026-01-06T00:00:00.000Z', expires_at: '2026-04-06T00:00:00.000Z' })
    expect(await svc.verify(k2)).toMatchObject({ status: 'VALID', id: entry.id, version: 2 })
    expect(await svc.verify(k1)).toMatchObject({ status: 'VALID', version: 1, deprecated: true, grace_until: '2026-01-07T00:00:00.000Z' })
    clock.advance(24 * HOUR)
    expect(await svc.verify(k1)).toMatchObject({ status: 'EXPIRED', id: entry.id, version: 1 })
    expect(events.at(-1)).toMatchObject({ action: 'api_key.rotate', detail: { version: 2, previous_version: 1, trigger: 'manual' } })
  })

  it('rotate keeps the expiry without --expiry-days; --grace 0 ends the old version at once', async () => {
    const { svc } = setup()
    const { entry, key: k1 } = await svc.generateApiKey({ name: 'n', service: 's', expiryDays: 10 })
    const { entry: e2 } = await svc.rotate(entry.id, { graceMs: 0 })
    expect(e2.expires_at).toBe(entry.expires_at)
    expect((await svc.verify(k1)).status).toBe('EXPIRED')
  })

  it('refuses to rotate a revoked or unknown key', async () => {
    const { svc } = setup()
    const { entry } = await svc.generateApiKey({ name: 'n', service: 's' })
    await svc.revoke(entry.id)
    await expect(svc.rotate(entry.id)).rejects.toMatchObject({ code: 'KEY_REVOKED', message: expect.stringContaining(entry.id) })
    await expect(svc.rotate('abcdefabcdef')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' })
    await expect(svc.rotate('../etc')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' })
  })

  it('verify: VALID records usage; REVOKED and EXPIRED name the key; an unknown key is INVALID without an id', async () => {
    const { svc, clock, repo } = setup()
    const a = await svc.generateApiKey({ name: 'n', service: 's', expiryDays: 1 })
    const b = await svc.generateApiKey({ name: 'n', service: 's' })
    expect(await svc.verify(a.key)).toMatchObject({ status: 'VALID', id: a.entry.id, name: 'n', service: 's', version: 1 })
    await repo.flush()
    expect((await svc.usage(a.entry.id))[0]).toMatchObject({ version: 1, use_count: 1, last_used_at: '2026-01-01T00:00:00.000Z', current: true })
    await svc.revoke(b.entry.id)
    expect(await svc.verify(b.key)).toMatchObject({ status: 'REVOKED', id: b.entry.id })
    clock.advance(25 * HOUR)
    expect(await svc.verify(a.key)).toMatchObject({ status: 'EXPIRED', id: a.entry.id })
    expect(await svc.verify('ak_nope')).toEqual({ status: 'INVALID' })
    expect(await svc.verify('')).toEqual({ status: 'INVALID' })
    await repo.flush()
    expect((await svc.usage(a.entry.id))[0]!.use_count).toBe(1)
  })

  it('records the use of a revoked version, so a revoked credential presented can be reported', async () => {
    const { svc, repo, clock } = setup()
    const { entry, key: k1 } = await svc.generateApiKey({ name: 'n', service: 's' })
    await svc.rotate(entry.id, { graceMs: 24 * HOUR })
    await svc.revokeVersion(entry.id, 1)
    clock.advance(HOUR)
    expect((await svc.verify(k1)).status).toBe('REVOKED')
    await repo.flush()
    const v1 = (await svc.usage(entry.id)).find((u) => u.version === 1)!
    expect(v1.last_used_at).toBe(clock.now().toISOString())
    expect(Date.parse(v1.last_used_at!)).toBeGreaterThan(Date.parse(v1.revoked_at!))
    expect((await svc.verify('ak_not-a-stored-key')).status).toBe('INVALID')
  })

  it('revokeVersion ends a previous version now, is idempotent, and refuses the current version', async () => {
    const { svc, events } = setup()
    const { entry, key: k1 } = await svc.generateApiKey({ name: 'n', service: 's' })
    const { key: k2 } = await svc.rotate(entry.id)
    await svc.revokeVersion(entry.id, 1, { trigger: 'auto' })
    expect(await svc.verify(k1)).toMatchObject({ status: 'REVOKED', version: 1 })
    expect(await svc.verify(k2)).toMatchObject({ status: 'VALID' })
    const n = events.length
    await svc.revokeVersion(entry.id, 1)
    expect(events.length).toBe(n)
    expect(events.at(-1)).toMatchObject({ action: 'api_key.revoke_version', detail: { version: 1, trigger: 'auto' } })
    await expect(svc.revokeVersion(entry.id, 2)).rejects.toMatchObject({ code: 'USAGE' })
    await expect(svc.revokeVersion(entry.id, 7)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('rollback makes the previous version current and revokes the newest; the next rotation gets a new number', async () => {
    const { svc } = setup()
    const { entry, key: k1 } = await svc.generateApiKey({ name: 'n', service: 's' })
    const { key: k2 } = await svc.rotate(entry.id)
    const rolled = await svc.rollback(entry.id, { trigger: 'auto' })
    expect(rolled).toMatchObject({ version: 1, key_hash: hashKey(k1), previous_hash: null, prefix_shown: k1.slice(0, 20) })
    expect(await svc.verify(k1)).toMatchObject({ status: 'VALID', version: 1 })
    expect((await svc.verify(k1)).deprecated).toBeUndefined()
    expect(await svc.verify(k2)).toMatchObject({ status: 'REVOKED', version: 2 })
    const { entry: e3 } = await svc.rotate(entry.id)
    expect(e3.version).toBe(3)
    expect((await svc.history(entry.id)).map((h) => [h.version, h.state])).toEqual([
      [1, 'grace'],
      [2, 'revoked'],
      [3, 'current'],
    ])
    await svc.rollback(entry.id)
    await expect(svc.rollback(entry.id)).rejects.toMatchObject({ code: 'CONFLICT' })
  })

  it('a change whose audit event cannot be written does not happen', async () => {
    const { svc, failAudit, repo } = setup()
    const { entry, key } = await svc.generateApiKey({ name: 'n', service: 's' })
    failAudit()
    await expect(svc.rotate(entry.id)).rejects.toThrow('audit down')
    await expect(svc.revoke(entry.id)).rejects.toThrow('audit down')
    await expect(svc.generateApiKey({ name: 'x', service: 's' })).rejects.toThrow('audit down')
    expect((await repo.list()).length).toBe(1)
    expect(await svc.verify(key)).toMatchObject({ status: 'VALID', version: 1 })
  })

  it('imports an existing key once, keeping its prefix', async () => {
    const { svc, events } = setup()
    const { entry } = await svc.importKey({ key: 'sk_live_0123456789abcdefXYZ', name: 'n', service: 's' })
    expect(entry.prefix).toBe('sk_live')
    expect(await svc.verify('sk_live_0123456789abcdefXYZ')).toMatchObject({ status: 'VALID', id: entry.id })
    await expect(svc.importKey({ key: 'sk_live_0123456789abcdefXYZ', name: 'n', service: 's' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' })
    await expect(svc.importKey({ key: 'short', name: 'n', service: 's' })).rejects.toMatchObject({ code: 'USAGE' })
    expect(events.at(-1)).toMatchObject({ action: 'api_key.import' })
    const { key } = await svc.rotate(entry.id)
    expect(key).toMatch(/^sk_live_/)
  })

  it('lists, reports health and stats', async () => {
    const { svc, clock } = setup()
    const a = await svc.generateApiKey({ name: 'a', service: 'x', expiryDays: 1 })
    await svc.generateApiKey({ name: 'b', service: 'y', expiryDays: 5 })
    const c = await svc.generateApiKey({ name: 'c', service: 'y' })
    await svc.revoke(c.entry.id)
    clock.advance(2 * 24 * HOUR)
    expect((await svc.list()).map((e) => e.name)).toEqual(['b'])
    expect((await svc.list({ all: true })).length).toBe(3)
    expect((await svc.list({ service: 'x', all: true })).map((e) => e.id)).toEqual([a.entry.id])
    const h = await svc.health(7 * 24 * HOUR)
    expect(h).toMatchObject({ total: 3, healthy: false })
    expect(h.expired.map((i) => i.id)).toEqual([a.entry.id])
    expect(h.expiring.map((i) => i.service)).toEqual(['y'])
    expect(h.revoked.map((i) => i.id)).toEqual([c.entry.id])
    expect((await svc.health(HOUR)).expiring).toEqual([])
    expect(await svc.stats()).toMatchObject({ total: 3, active: 1, expired: 1, revoked: 1, api_keys: 3, by_service: { x: 1, y: 2 } })
  })
})

describe('keys service: JWTs', () => {
  it('signs HS256 with sub = key id; custom claims cannot override jti/iss/sub/exp', async () => {
    const { svc, events } = setup()
    const { entry, key } = await svc.generateJwt({ name: 'n', service: 's', expiryDays: 30, claims: { role: 'admin' } })
    const p = decodeJwt(key)
    expect(p).toMatchObject({ sub: entry.id, iss: 'apiauth', jti: `${entry.id}.v1`, role: 'admin', exp: Date.parse('2026-01-31T00:00:00Z') / 1000 })
    expect(entry.type).toBe('jwt')
    expect(events.at(-1)).toMatchObject({ action: 'jwt.create' })
    expect(await svc.verify(key)).toMatchObject({ status: 'VALID', id: entry.id, type: 'jwt' })
    for (const k of ['jti', 'iss', 'sub', 'exp']) {
      await expect(svc.generateJwt({ name: 'n', service: 's', claims: { [k]: 'x' } })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining(k) })
    }
  })

  it('rejects forged, tampered and alg:none tokens, and honours exp', async () => {
    const { svc, clock, repo } = setup()
    const { entry, key } = await svc.generateJwt({ name: 'n', service: 's', expiryDays: 1 })
    const forged = await new SignJWT({ sub: entry.id, jti: `${entry.id}.v1`, iss: 'apiauth' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32))
    expect(await svc.verify(forged)).toEqual({ status: 'INVALID' })
    const none = new UnsecuredJWT({ sub: entry.id, jti: `${entry.id}.v1`, iss: 'apiauth' }).encode()
    expect(await svc.verify(none)).toEqual({ status: 'INVALID' })
    const [h, , s] = key.split('.')
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: entry.id, role: 'root' })).toString('base64url')}.${s}`
    expect(await svc.verify(tampered)).toEqual({ status: 'INVALID' })
    // Even a token whose hash is on record must carry a valid signature: plant an alg:none
    // token's hash as a version of the entry, and verify still refuses it.
    const stored = (await repo.get(entry.id))!
    const fake = { ...stored, key_hash: hashKey(none), versions: [{ ...stored.versions[0]!, key_hash: hashKey(none) }] }
    await repo.mutate((tx) => tx.put(fake))
    expect(await svc.verify(none)).toMatchObject({ status: 'INVALID', id: entry.id })
    await repo.mutate((tx) => tx.put(stored))
    clock.advance(2 * 24 * HOUR)
    expect(await svc.verify(key)).toMatchObject({ status: 'EXPIRED' })
  })

  it('rotates a JWT: new token for the new version, old one deprecated in grace', async () => {
    const { svc } = setup()
    const { entry, key: t1 } = await svc.generateJwt({ name: 'n', service: 's', claims: { scope: 'read' } })
    const { key: t2, entry: e2 } = await svc.rotate(entry.id, { graceMs: HOUR })
    expect(decodeJwt(t2)).toMatchObject({ jti: `${entry.id}.v2`, scope: 'read' })
    expect(e2.version).toBe(2)
    expect(await svc.verify(t1)).toMatchObject({ status: 'VALID', deprecated: true })
    expect(await svc.verify(t2)).toMatchObject({ status: 'VALID', version: 2 })
  })
})

import { describe, expect, it, onTestFinished } from 'vitest'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { systemRandom } from '../../adapters/system/system.js'
import { createFakeClock } from '../../adapters/system/system.js'
import { parseMasterKeyMaterial } from '../../core/crypto/kdf.js'
import { sha256Hex } from '../../core/crypto/hash.js'
import { sampleEntry } from '../../core/keys/key-repository.contract.js'
import type { KeyEntry } from '../../core/keys/key-entry.js'
import { freshSchema } from './test-schema.js'
import { migrate, currentVersion } from './migrations.js'
import { createPgKeyRepository } from './key-repository.js'
import { createPgAuditLog } from './audit-log.js'
import { loadKeyring, rotateMasterKey } from './keyring.js'
import { createPgSecretStore } from './secret-store.js'
import { createPgTokenStore, hasScope } from './token-store.js'
import { createPgLockManager } from './lock-manager.js'
import { startChangeListener } from './listener.js'
import type { ChangeEvent } from './db.js'

const MASTER = parseMasterKeyMaterial('a'.repeat(64), 'TEST_MASTER')
const MASTER2 = parseMasterKeyMaterial('b'.repeat(64), 'TEST_MASTER2')

async function schema() {
  const s = await freshSchema(PG_URL)
  onTestFinished(() => s.drop())
  return s
}

/** A key entry whose hash is the SHA-256 of `key` (the contract suite's sample, with a chosen id). */
export function entry(id: string, key: string, over: Partial<KeyEntry> = {}): KeyEntry {
  return sampleEntry({ id, name: `n-${id}`, prefix_shown: key.slice(0, 20), ...over }, key)
}

describe.skipIf(!(await serviceAvailable('postgres')))('PostgreSQL adapters', () => {
  it('migrates once, idempotently, from several callers at once', async () => {
    const s = await freshSchema(PG_URL, { migrate: false })
    onTestFinished(() => s.drop())
    const rs = await Promise.all([migrate(s.pool), migrate(s.pool), migrate(s.pool)])
    expect(rs.flatMap((r) => r.applied).map((a) => a.version)).toEqual([1, 2])
    expect(await currentVersion(s.pool)).toBe(2)
  })

  it('stores keys, finds them by hash, and two repositories see each other\'s writes', async () => {
    const { pool } = await schema()
    const a = createPgKeyRepository(pool)
    const b = createPgKeyRepository(pool)
    await a.mutate((tx) => tx.put(entry('aaaaaaaaaaaa', 'ak_one')))
    await b.mutate((tx) => {
      expect(tx.has('aaaaaaaaaaaa')).toBe(true)
      tx.put(entry('bbbbbbbbbbbb', 'ak_two'))
    })
    await a.mutate((tx) => expect(tx.all().map((e) => e.id).sort()).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb']))
    expect((await a.findByHash(sha256Hex('ak_two')))?.entry.id).toBe('bbbbbbbbbbbb')
    expect(await a.findByHash(sha256Hex('nope'))).toBeUndefined()
    expect((await a.list()).length).toBe(2)
  })

  it('writes nothing when fn or beforeCommit throws', async () => {
    const { pool } = await schema()
    const r = createPgKeyRepository(pool)
    await expect(r.mutate((tx) => {
      tx.put(entry('cccccccccccc', 'ak_c'))
      throw new Error('boom')
    })).rejects.toThrow('boom')
    await expect(r.mutate((tx) => tx.put(entry('cccccccccccc', 'ak_c')), async () => {
      throw new Error('audit down')
    })).rejects.toThrow('audit down')
    expect(await r.get('cccccccccccc')).toBeUndefined()
    await r.mutate((tx) => expect(tx.has('cccccccccccc')).toBe(false))
  })

  it('buffers usage and folds it into get after flush', async () => {
    const { pool } = await schema()
    const r = createPgKeyRepository(pool)
    await r.mutate((tx) => tx.put(entry('dddddddddddd', 'ak_d')))
    await r.recordUse({ id: 'dddddddddddd', version: 1, at: '2026-01-02T00:00:00.000Z' })
    await r.recordUse({ id: 'dddddddddddd', version: 1, at: '2026-01-03T00:00:00.000Z' })
    await r.flush()
    const e = await r.get('dddddddddddd')
    expect(e?.versions[0]).toMatchObject({ use_count: 2, last_used_at: '2026-01-03T00:00:00.000Z' })
    await r.close()
  })

  it('keeps a hash-chained audit log across instances', async () => {
    const { pool } = await schema()
    const clock = createFakeClock()
    const a = createPgAuditLog(pool, { clock, actor: 'tester' })
    const b = createPgAuditLog(pool, { clock, actor: 'tester' })
    await Promise.all([a.append({ action: 'api_key.create', target: 'x' }), b.append({ action: 'secret.set', target: 'Y', env: 'prod' }), a.append({ action: 'api_key.rotate', target: 'x' })])
    expect(await a.verify()).toEqual({ ok: true, count: 3 })
    expect((await b.read({ action: 'API_KEY' })).length).toBe(2)
    expect((await b.read({ env: 'prod' })).map((e) => e.target)).toEqual(['Y'])
    await pool.query(`UPDATE audit_events SET event = jsonb_set(event, '{target}', '"z"') WHERE seq = 2`)
    expect((await a.verify()).ok).toBe(false)
  })

  it('seals secret values with a wrapped data key: a dump reveals nothing, versions are kept', async () => {
    const { pool } = await schema()
    const kr = await loadKeyring(pool, MASTER, systemRandom)
    const prod = createPgSecretStore(pool, kr, 'prod')
    const CANARY = 'canary-Zq9v-secret-value-0001'
    await prod.apply({ set: { STRIPE_KEY: CANARY, LOG_LEVEL: 'warn' } })
    await prod.apply({ set: { STRIPE_KEY: CANARY + '-v2' } })
    expect(await prod.get('STRIPE_KEY')).toBe(CANARY + '-v2')
    expect(await prod.getVersion('STRIPE_KEY', 1)).toBe(CANARY)
    expect((await prod.versions('STRIPE_KEY')).map((v) => v.version)).toEqual([1, 2])
    expect(await prod.list('STR')).toEqual(['STRIPE_KEY'])
    await prod.apply({ unset: ['STRIPE_KEY'] })
    expect(await prod.get('STRIPE_KEY')).toBeUndefined()
    expect(await prod.list()).toEqual(['LOG_LEVEL'])
    expect(await createPgSecretStore(pool, kr, 'dev').list()).toEqual([])
    // dump every table as text
    const tables = (await pool.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = current_schema()')).rows
    let dump = ''
    for (const t of tables) {
      const rows = (await pool.query(`SELECT * FROM ${t.tablename}`)).rows as Record<string, unknown>[]
      dump += JSON.stringify(rows, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))
      for (const r of rows) for (const v of Object.values(r)) if (Buffer.isBuffer(v)) dump += v.toString('base64') + v.toString('hex')
    }
    expect(dump.length).toBeGreaterThan(100)
    expect(dump).not.toContain('canary-Zq9v')
    expect(dump).not.toContain(Buffer.from(CANARY).toString('base64').slice(0, 16))
    // a row moved to another name fails authentication
    await pool.query("UPDATE secret_versions SET name = 'OTHER' WHERE name = 'LOG_LEVEL'")
    await expect(prod.get('OTHER')).rejects.toThrow(/cannot decrypt/)
  })

  it('master rotate re-wraps the data key; the old master key no longer opens it, values survive', async () => {
    const { pool } = await schema()
    const kr = await loadKeyring(pool, MASTER, systemRandom)
    await createPgSecretStore(pool, kr, 'prod').apply({ set: { A: 'value-a' } })
    expect(await rotateMasterKey(pool, { current: MASTER, next: MASTER2, random: systemRandom })).toEqual({ rewrapped: 1 })
    // the running keyring keeps serving
    expect(await createPgSecretStore(pool, kr, 'prod').get('A')).toBe('value-a')
    await expect(loadKeyring(pool, MASTER, systemRandom)).rejects.toThrow(/does not open/)
    const kr2 = await loadKeyring(pool, MASTER2, systemRandom)
    expect(await createPgSecretStore(pool, kr2, 'prod').get('A')).toBe('value-a')
    await expect(rotateMasterKey(pool, { current: MASTER, next: MASTER2, random: systemRandom })).rejects.toThrow(/nothing was changed/)
  })

  it('issues hashed tokens and checks scopes', async () => {
    const { pool } = await schema()
    const ts = createPgTokenStore(pool, { clock: createFakeClock(), random: systemRandom })
    const { token, info } = await ts.create({ name: 'ci', scopes: ['env:prod:read'], actor: 'me' })
    expect(token).toMatch(/^rkt_[0-9a-f]{16}_/)
    expect((await ts.authenticate(token))?.id).toBe(info.id)
    expect(await ts.authenticate(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeUndefined()
    expect(await ts.authenticate('')).toBeUndefined()
    const rows = (await pool.query('SELECT token_hash FROM api_tokens')).rows as { token_hash: string }[]
    expect(JSON.stringify(rows)).not.toContain(token.slice(21))
    await ts.revoke(info.id)
    expect(await ts.authenticate(token)).toBeUndefined()
    await expect(ts.create({ name: 'x', scopes: ['env:prod:delete'], actor: 'me' })).rejects.toThrow(/invalid scope/)
    expect(hasScope(['env:prod:write'], 'env:prod:read')).toBe(true)
    expect(hasScope(['env:prod:read'], 'env:prod:write')).toBe(false)
    expect(hasScope(['env:prod:read'], 'env:staging:read')).toBe(false)
    expect(hasScope(['env:*:read'], 'env:staging:read')).toBe(true)
    expect(hasScope(['keys:verify'], 'keys:write')).toBe(false)
    expect(hasScope(['admin'], 'keys:write')).toBe(true)
  })

  it('advisory locks let exactly one holder run', async () => {
    const { pool } = await schema()
    const a = createPgLockManager(pool)
    const b = createPgLockManager(pool)
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const first = a.tryWithLock('job:x', () => held)
    await new Promise((r) => setTimeout(r, 50))
    expect(await b.tryWithLock('job:x', async () => 1)).toEqual({ ran: false })
    release()
    expect((await first).ran).toBe(true)
    expect(await b.tryWithLock('job:x', async () => 2)).toEqual({ ran: true, value: 2 })
  })

  it('delivers change notifications to listeners on commit', async () => {
    const { pool, schema: sc } = await schema()
    const l = await startChangeListener({ url: PG_URL, schema: sc })
    onTestFinished(() => l.close())
    const got: ChangeEvent[] = []
    const arrived = new Promise<void>((r) => l.on('change', (e) => (got.push(e), r())))
    await createPgKeyRepository(pool).mutate((tx) => tx.put(entry('eeeeeeeeeeee', 'ak_e')))
    await arrived
    expect(got).toEqual([{ kind: 'key', id: 'eeeeeeeeeeee' }])
    expect(l.connected).toBe(true)
  })
})

import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { tempDir } from '../../test/helpers/cli.js'
import { createEnvService } from './env-service.js'
import { parseEnvaultConfig } from '../config/envault-config.js'
import { createEnvFileGateway, createEnvKeyring, type CommitFs } from '../adapters/file/env-file-store.js'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFakeClock } from '../adapters/system/system.js'
import { createLocalFileStore } from '../adapters/stores/local-file-store.js'
import { parseMasterKeyMaterial } from '../core/crypto/kdf.js'
import type { SecretStore } from '../core/env/ports.js'
import type { AuditLog } from '../core/audit/audit-event.js'

/**
 * The env service over environments kept in secret stores (local-file stores here, PostgreSQL in
 * test/e2e/envault-postgres.test.ts), mixed with .env files: same use cases, same audit events,
 * and all-or-nothing writes across files and stores.
 */
const random = { bytes: (n: number) => randomBytes(n) }
const CONFIG = 'project: demo\nenvironments:\n  dev: .env.dev\n  staging: {store: s1}\n  prod: {store: s2}\nstores:\n  s1: {type: local-file}\n  s2: {type: local-file}\nskip_keys: [COMMIT_SHA]\n'

function project(o: { dev?: string; fs?: CommitFs; audit?: AuditLog } = {}) {
  const dir = tempDir('envault-stores-')
  writeFileSync(join(dir, '.env.dev'), o.dev ?? '# dev\nDB_HOST=localhost\nDB_PASSWORD=dev_password_123\nLOG_LEVEL=debug\n')
  const config = parseEnvaultConfig(CONFIG, join(dir, '.envault.yml'))
  const clock = createFakeClock('2026-05-27T09:00:15Z')
  const material = async () => parseMasterKeyMaterial('e'.repeat(64), 'K')
  const raw: Record<string, SecretStore> = {
    staging: createLocalFileStore({ name: 's1', path: join(dir, 's1.enc'), what: 's1.enc', material, random }),
    prod: createLocalFileStore({ name: 's2', path: join(dir, 's2.enc'), what: 's2.enc', material, random }),
  }
  const failOn = new Set<string>()
  const stores: Record<string, SecretStore> = Object.fromEntries(
    Object.entries(raw).map(([env, s]) => [
      env,
      {
        ...s,
        list: (p?: string) => s.list(p),
        get: (k: string) => s.get(k),
        getAll: () => s.getAll(),
        apply: async (c: Parameters<SecretStore['apply']>[0]) => {
          if (failOn.has(env)) throw new Error(`store for ${env} is down`)
          return s.apply(c)
        },
      },
    ]),
  )
  const audit = o.audit ?? createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock, actor: 'ci-bot' })
  const svc = createEnvService({
    config,
    audit,
    clock,
    random,
    actor: 'ci-bot',
    keyring: createEnvKeyring({ project: 'demo', keyFile: join(dir, '.envault.key'), env: { ENVAULT_MASTER_KEY: 'a'.repeat(64) } }),
    files: createEnvFileGateway(o.fs ? { fs: o.fs } : {}),
    stores: (e) => stores[e.name]!,
  })
  const auditLines = (): Record<string, unknown>[] => {
    try {
      return readFileSync(join(dir, '.envault-audit.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
    } catch {
      return []
    }
  }
  return { dir, svc, raw, failOn, auditLines, readDev: () => readFileSync(join(dir, '.env.dev'), 'utf8') }
}

describe('environments in secret stores', () => {
  it('set, get, unset, getAll and diff work on a store environment, audited like files', async () => {
    const { svc, raw, auditLines } = project()
    expect(await svc.set('API_KEY', 'sk_live_abcdef123456', 'prod')).toEqual({ changed: true, created: true })
    expect(await svc.set('API_KEY', 'sk_live_abcdef123456', 'prod')).toEqual({ changed: false, created: false })
    expect(await svc.get('API_KEY', 'prod')).toBe('sk_live_abcdef123456')
    expect(await raw.prod!.get('API_KEY')).toBe('sk_live_abcdef123456')
    await expect(svc.get('NOPE', 'prod')).rejects.toThrow('NOPE is not set in prod (store:s2)')
    await svc.set('DB_HOST', 'prod-db.internal', 'prod')
    const d = await svc.diff('dev', 'prod')
    expect(d.onlyInSource.map((x) => x.key)).toEqual(['DB_PASSWORD', 'LOG_LEVEL'])
    expect(d.onlyInTarget.map((x) => x.key)).toEqual(['API_KEY'])
    expect(d.different).toEqual([{ key: 'DB_HOST', from: 'localhost', to: 'prod-db.internal' }])
    await svc.unset('API_KEY', 'prod')
    await expect(svc.unset('API_KEY', 'prod')).rejects.toThrow('API_KEY is not set in prod (store:s2)')
    expect([...(await svc.getAll('prod')).keys()]).toEqual(['DB_HOST'])
    const ev = auditLines()
    expect(ev.map((e) => [e.action, e.target, e.env])).toEqual([
      ['secret.set', 'API_KEY', 'prod'],
      ['secret.set', 'DB_HOST', 'prod'],
      ['secret.unset', 'API_KEY', 'prod'],
    ])
    expect(ev[0]!.detail).toEqual({ old_last4: null, new_last4: '…3456', trigger: 'manual', store: 's2' })
  })

  it('syncs a .env file into a store and a store into a .env file, bit for bit, honouring skip_keys', async () => {
    const { svc, raw, readDev, auditLines } = project({ dev: '# keep me\nexport DB_HOST=localhost\nODD="a \\"quoted\\" ${NOT_EXPANDED}"\nCOMMIT_SHA=abc\n' })
    const dry = await svc.sync('dev', 'staging', { dryRun: true })
    expect(dry.written).toBe(false)
    expect(dry.plan.add.map((a) => a.key)).toEqual(['DB_HOST', 'ODD'])
    expect(await raw.staging!.list()).toEqual([])
    const r = await svc.sync('dev', 'staging')
    expect(r.written).toBe(true)
    expect(await raw.staging!.get('ODD')).toBe('a "quoted" ${NOT_EXPANDED}')
    expect(await raw.staging!.get('COMMIT_SHA')).toBeUndefined()
    expect((await svc.diff('dev', 'staging')).different).toEqual([])
    await raw.staging!.apply({ set: { NEW_FROM_STORE: 'x' } })
    await svc.sync('staging', 'dev')
    expect(readDev()).toBe('# keep me\nexport DB_HOST=localhost\nODD="a \\"quoted\\" ${NOT_EXPANDED}"\nCOMMIT_SHA=abc\nNEW_FROM_STORE=x\n')
    expect(auditLines().filter((e) => e.action === 'secret.sync').map((e) => [e.target, e.env])).toEqual([
      ['DB_HOST', 'staging'],
      ['ODD', 'staging'],
      ['NEW_FROM_STORE', 'dev'],
    ])
    await expect(svc.sync('dev', 'staging', { strategy: 'error' })).resolves.toMatchObject({ written: false })
    await raw.staging!.apply({ set: { DB_HOST: 'other' } })
    await expect(svc.sync('dev', 'staging', { strategy: 'error' })).rejects.toThrow(/1 conflicting key under strategy "error": DB_HOST; nothing was written/)
    expect(await raw.staging!.get('DB_HOST')).toBe('other')
  })

  it('rotates one key across a file and two stores with one value, and rotate-all works on a store', async () => {
    const { svc, raw, auditLines } = project()
    await raw.staging!.apply({ set: { DB_PASSWORD: 'staging_password_1' } })
    await raw.prod!.apply({ set: { DB_PASSWORD: 'prod_password_12', LOG_LEVEL: 'warn' } })
    const r = await svc.rotate({ key: 'DB_PASSWORD' })
    expect(r.targets.map((t) => [t.env, t.file])).toEqual([['dev', '.env.dev'], ['staging', 'store:s1'], ['prod', 'store:s2']])
    const v = r.targets[0]!.value
    expect(await svc.get('DB_PASSWORD', 'dev')).toBe(v)
    expect(await raw.staging!.get('DB_PASSWORD')).toBe(v)
    expect(await raw.prod!.get('DB_PASSWORD')).toBe(v)
    expect(auditLines().filter((e) => e.action === 'secret.rotate').map((e) => e.env)).toEqual(['dev', 'staging', 'prod'])
    const all = await svc.rotateAll({ env: 'prod' })
    expect(all.rotated.map((x) => x.key)).toEqual(['DB_PASSWORD'])
    expect(all.skipped).toEqual(['LOG_LEVEL'])
    expect(await raw.prod!.get('DB_PASSWORD')).toBe(all.rotated[0]!.value)
    expect(await raw.prod!.get('LOG_LEVEL')).toBe('warn')
  })

  it('a store failing part-way puts back the stores already changed and leaves the file as it was', async () => {
    const { svc, raw, failOn, readDev, auditLines } = project()
    await raw.staging!.apply({ set: { DB_PASSWORD: 'staging_password_1' } })
    await raw.prod!.apply({ set: { DB_PASSWORD: 'prod_password_12' } })
    const before = readDev()
    failOn.add('prod')
    await expect(svc.rotate({ key: 'DB_PASSWORD' })).rejects.toThrow('store for prod is down')
    expect(readDev()).toBe(before)
    expect(await raw.staging!.get('DB_PASSWORD')).toBe('staging_password_1')
    expect(await raw.prod!.get('DB_PASSWORD')).toBe('prod_password_12')
    const ev = auditLines()
    expect(ev.filter((e) => e.status === 'failed').map((e) => [e.action, e.env, (e.detail as Record<string, unknown>).rolled_back])).toEqual([
      ['secret.rotate', 'dev', true],
      ['secret.rotate', 'staging', true],
      ['secret.rotate', 'prod', true],
    ])
    // setInEnvironments (the rotation engine's path) behaves the same.
    await expect(svc.setInEnvironments({ names: ['staging', 'prod'], key: 'DB_PASSWORD', value: 'new-value-123456' })).rejects.toThrow('store for prod is down')
    expect(await raw.staging!.get('DB_PASSWORD')).toBe('staging_password_1')
  })

  it('a file that cannot be replaced puts the stores back too', async () => {
    const fs: CommitFs = { rename: () => Promise.reject(Object.assign(new Error('disk gone'), { code: 'EIO' })) }
    const { svc, raw, readDev } = project({ fs })
    await raw.prod!.apply({ set: { DB_PASSWORD: 'prod_password_12' } })
    const before = readDev()
    await expect(svc.rotate({ key: 'DB_PASSWORD' })).rejects.toMatchObject({ message: expect.stringContaining('.env.dev') })
    expect(readDev()).toBe(before)
    expect(await raw.prod!.get('DB_PASSWORD')).toBe('prod_password_12')
  })

  it('says which store could not be put back (partial failure)', async () => {
    const fs: CommitFs = { rename: () => Promise.reject(Object.assign(new Error('disk gone'), { code: 'EIO' })) }
    const p = project({ fs })
    await p.raw.prod!.apply({ set: { DB_PASSWORD: 'prod_password_12' } })
    // prod accepts the rotation, then goes down before it can be put back.
    const orig = p.raw.prod!.apply.bind(p.raw.prod)
    let calls = 0
    p.raw.prod!.apply = async (c) => {
      if (++calls > 1) throw new Error('down')
      return orig(c)
    }
    const fresh = createEnvService({ config: p.svc.config, audit: createJsonlAuditLog({ path: join(p.dir, '.envault-audit.log'), clock: createFakeClock(), actor: 'x' }), clock: createFakeClock(), random, actor: 'x', keyring: createEnvKeyring({ project: 'demo', keyFile: join(p.dir, '.k'), env: {} }), files: createEnvFileGateway({ fs }), stores: (e) => p.raw[e.name]! })
    await expect(fresh.rotate({ key: 'DB_PASSWORD' })).rejects.toMatchObject({ code: 'PARTIAL_FAILURE', message: expect.stringMatching(/could not be undone in prod \(store:s2\)/) })
  })

  it('when the audit event cannot be written, the store does not change', async () => {
    const audit: AuditLog = { append: () => Promise.reject(new Error('audit disk full')), read: () => Promise.resolve([]), verify: () => Promise.resolve({ ok: true, count: 0 }) } as unknown as AuditLog
    const { svc, raw } = project({ audit })
    await expect(svc.set('API_KEY', 'sk_live_abcdef123456', 'prod')).rejects.toThrow('audit disk full')
    expect(await raw.prod!.get('API_KEY')).toBeUndefined()
  })

  it('the rotation engine port, restore, the serve reader, and encrypt on a store', async () => {
    const { svc, raw, auditLines } = project()
    await raw.prod!.apply({ set: { TOKEN: 'old-token-value-1' } })
    const { previous } = await svc.setInEnvironments({ names: ['dev', 'prod'], key: 'TOKEN', value: 'new-token-value-2' })
    expect(previous).toEqual([{ env: 'dev', value: undefined }, { env: 'prod', value: 'old-token-value-1' }])
    expect(await svc.openEnvironment('prod').get('TOKEN')).toBe('new-token-value-2')
    await svc.restoreValues({ key: 'TOKEN', previous })
    expect(await raw.prod!.get('TOKEN')).toBe('old-token-value-1')
    expect((await svc.getAll('dev')).has('TOKEN')).toBe(false)
    const reader = svc.secretReader('prod')
    expect(await reader.list('TO')).toEqual(['TOKEN'])
    expect(await reader.read('TOKEN')).toBe('old-token-value-1')
    await raw.prod!.apply({ set: { TOKEN: 'changed-elsewhere' } })
    expect(await reader.read('TOKEN')).toBe('changed-elsewhere')
    expect(auditLines().filter((e) => e.action === 'secret.read').map((e) => [e.target, e.env])).toEqual([['TOKEN', 'prod'], ['TOKEN', 'prod']])
    await expect(svc.encrypt('prod')).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('prod lives in store:s2') })
  })
})

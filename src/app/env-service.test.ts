import { describe, expect, it } from 'vitest'
import { chmodSync, readFileSync, writeFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { tempDir } from '../../test/helpers/cli.js'
import { createEnvService, type EnvServiceDeps } from './env-service.js'
import { parseEnvaultConfig } from '../config/envault-config.js'
import { createEnvFileGateway, createEnvKeyring, type CommitFs } from '../adapters/file/env-file-store.js'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFakeClock } from '../adapters/system/system.js'
import type { AuditEvent, AuditLog } from '../core/audit/audit-event.js'
import { parseDotenv, toMap } from '../core/env/dotenv-parse.js'

const parseDotenvMap = (t: string) => toMap(parseDotenv(t))

const random = { bytes: (n: number) => randomBytes(n) }
const KEY = 'a'.repeat(64)

function project(files: Record<string, string>, o: { env?: Record<string, string>; fs?: CommitFs; audit?: AuditLog; config?: string } = {}) {
  const dir = tempDir('envault-svc-')
  const cfgText = o.config ?? 'project: demo\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\nconflict_strategy: source_wins\nskip_keys: [COMMIT_SHA]\n'
  writeFileSync(join(dir, '.envault.yml'), cfgText)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  const config = parseEnvaultConfig(cfgText, join(dir, '.envault.yml'))
  const clock = createFakeClock('2026-05-27T09:00:15Z')
  const audit = o.audit ?? createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock, actor: 'ci-bot' })
  const deps: EnvServiceDeps = {
    config,
    audit,
    clock,
    random,
    actor: 'ci-bot',
    keyring: createEnvKeyring({ project: 'demo', keyFile: join(dir, '.envault.key'), env: o.env ?? { ENVAULT_MASTER_KEY: KEY } }),
    files: createEnvFileGateway(o.fs ? { fs: o.fs } : {}),
  }
  const read = (name: string) => readFileSync(join(dir, name), 'utf8')
  const auditText = () => {
    try {
      return read('.envault-audit.log')
    } catch {
      return ''
    }
  }
  return { dir, svc: createEnvService(deps), read, auditText, deps }
}

const DEV = '# dev settings\nexport DB_HOST=localhost\nDB_PASSWORD="dev_password_123"\nLOG_LEVEL=debug  # verbose\nAPI_KEY=dev_key_abc123\nCOMMIT_SHA=abc\n'
const PROD = '# prod — edit with care\r\nexport DB_HOST=prod-db.internal\r\nDB_PASSWORD=\'prod_password_789\'\r\nLOG_LEVEL=warn\r\nURL=${BASE}/x\r\n'

describe('single values', () => {
  it('sets, gets and unsets; an empty value is not a missing key', async () => {
    const { svc, read, auditText } = project({ '.env.dev': DEV })
    await svc.set('EMPTY', '', 'dev')
    expect(await svc.get('EMPTY', 'dev')).toBe('')
    await expect(svc.get('MISSING', 'dev')).rejects.toThrow(/MISSING is not set in dev \(\.env\.dev\)/)
    await svc.set('DB_PASSWORD', 'new secret value', 'dev')
    expect(read('.env.dev')).toContain('DB_PASSWORD="new secret value"\n')
    expect(read('.env.dev').startsWith('# dev settings\nexport DB_HOST=localhost\n')).toBe(true)
    await svc.unset('EMPTY', 'dev')
    expect(read('.env.dev')).not.toContain('EMPTY')
    const events = auditText().trim().split('\n').map((l) => JSON.parse(l) as AuditEvent)
    expect(events.map((e) => e.action)).toEqual(['secret.set', 'secret.set', 'secret.unset'])
    expect(events[1]).toMatchObject({ target: 'DB_PASSWORD', env: 'dev', actor: 'ci-bot', detail: { old_last4: '…_123', new_last4: '…alue', trigger: 'manual' } })
    expect(auditText()).not.toContain('new secret value')
    expect(auditText()).not.toContain('dev_password_123')
  })
  it('refuses an unknown environment without creating a file', async () => {
    const { svc, dir } = project({ '.env.dev': DEV })
    await expect(svc.set('A', '1', 'qa')).rejects.toMatchObject({ code: 'ENV_NOT_FOUND' })
    expect(readdirSync(dir).some((f) => f.includes('qa'))).toBe(false)
  })
})

describe('sync', () => {
  it('edits the target in place, keeping comments, export prefixes, quoting and CRLF', async () => {
    const { svc, read, auditText } = project({ '.env.dev': DEV, '.env.prod': PROD })
    const r = await svc.sync('dev', 'prod', { strategy: 'source_wins' })
    expect(r.written).toBe(true)
    expect(read('.env.prod')).toBe("# prod — edit with care\r\nexport DB_HOST=localhost\r\nDB_PASSWORD='dev_password_123'\r\nLOG_LEVEL=debug\r\nURL=${BASE}/x\r\nAPI_KEY=dev_key_abc123\r\n")
    // COMMIT_SHA is in skip_keys; one audit event per changed key, with one op id
    const events = auditText().trim().split('\n').map((l) => JSON.parse(l) as AuditEvent)
    expect(events.map((e) => e.target)).toEqual(['API_KEY', 'DB_HOST', 'DB_PASSWORD', 'LOG_LEVEL'])
    expect(new Set(events.map((e) => e.detail.op)).size).toBe(1)
    expect(events.every((e) => e.action === 'secret.sync' && e.env === 'prod' && e.detail.from === 'dev')).toBe(true)
  })
  it('with strategy error names every conflicting key and writes nothing', async () => {
    const { svc, read, auditText } = project({ '.env.dev': DEV, '.env.prod': PROD })
    await expect(svc.sync('dev', 'prod', { strategy: 'error' })).rejects.toThrow(/3 conflicting keys under strategy "error": DB_HOST, DB_PASSWORD, LOG_LEVEL; nothing was written/)
    expect(read('.env.prod')).toBe(PROD)
    expect(auditText()).toBe('')
  })
  it('target_wins keeps differing values; --allow-delete removes extra keys; a dry run writes nothing', async () => {
    const { svc, read } = project({ '.env.dev': DEV, '.env.prod': PROD })
    const dry = await svc.sync('dev', 'prod', { dryRun: true, allowDelete: true, skip: ['API_KEY'] })
    expect(dry.plan.remove.map((x) => x.key)).toEqual(['URL'])
    expect(dry.plan.skipped).toEqual(['API_KEY', 'COMMIT_SHA'].filter((k) => k !== 'COMMIT_SHA').concat(['COMMIT_SHA']))
    expect(read('.env.prod')).toBe(PROD)
    await svc.sync('dev', 'prod', { strategy: 'target_wins', allowDelete: true })
    const out = read('.env.prod')
    expect(out).toContain('LOG_LEVEL=warn\r\n')
    expect(out).not.toContain('URL=')
    expect(out).toContain('API_KEY=dev_key_abc123')
  })
})

describe('rotate', () => {
  const files = {
    '.env.dev': 'DB_PASSWORD=a\nDATABASE_URL=postgres://app:old@dev-db:5432/app\nLOG_LEVEL=debug\nSTRIPE_API_KEY=sk_live_abcdefghijkl\n',
    '.env.staging': 'DB_PASSWORD=b\nDATABASE_URL=postgres://app:old2@stg-db:5432/app\n',
    '.env.prod': 'DB_PASSWORD=c\n',
  }
  it('puts one new value in every environment that has the key', async () => {
    const { svc, read, auditText } = project(files)
    const r = await svc.rotate({ key: 'DB_PASSWORD' })
    expect(r.targets.map((t) => t.file)).toEqual(['.env.dev', '.env.staging', '.env.prod'])
    const v = r.targets[0]!.value
    for (const f of ['.env.dev', '.env.staging', '.env.prod']) expect(parseDotenvMap(read(f)).get('DB_PASSWORD')).toBe(v)
    expect(auditText()).not.toContain(v)
    expect(auditText().match(/secret\.rotate/g)).toHaveLength(3)
  })
  it('changes only the password inside URLs, per environment', async () => {
    const { svc, read } = project(files)
    const r = await svc.rotate({ key: 'DATABASE_URL' })
    expect(r.kind).toBe('url-credentials')
    expect(r.shared).toBe(false)
    expect(new URL(r.targets[0]!.value).host).toBe('dev-db:5432')
    expect(new URL(r.targets[1]!.value).host).toBe('stg-db:5432')
    expect(read('.env.dev')).toContain(r.targets[0]!.value)
    // one new password, inside each environment's own URL; --per-env gives each its own
    expect(new URL(r.targets[0]!.value).password).toBe(new URL(r.targets[1]!.value).password)
    const per = await svc.rotate({ key: 'DATABASE_URL', perEnv: true, dryRun: true })
    expect(new URL(per.targets[0]!.value).password).not.toBe(new URL(per.targets[1]!.value).password)
  })
  it('refuses a URL that has a password in some environments only', async () => {
    const { svc } = project({ '.env.dev': 'DATABASE_URL=postgres://app:pw@db/app\n', '.env.prod': 'DATABASE_URL=postgres://db/app\n' })
    await expect(svc.rotate({ key: 'DATABASE_URL' })).rejects.toThrow(/holds a URL with a password in some environments but not in prod; nothing was changed/)
  })
  it('keeps an API key prefix, refuses non-secrets unless forced, and validates --length', async () => {
    const { svc } = project(files)
    expect((await svc.rotate({ key: 'STRIPE_API_KEY', dryRun: true })).targets[0]!.value).toMatch(/^sk_live_/)
    await expect(svc.rotate({ key: 'LOG_LEVEL' })).rejects.toThrow(/does not look like a secret/)
    expect((await svc.rotate({ key: 'LOG_LEVEL', force: true, dryRun: true })).kind).toBe('generic-secret')
    await expect(svc.rotate({ key: 'DB_PASSWORD', length: 4 })).rejects.toThrow(/invalid --length 4/)
  })
  it('leaves every file as it was when a rename fails part-way', async () => {
    let renames = 0
    const failing: CommitFs = {
      rename: async (a, b) => {
        if (++renames === 2) throw Object.assign(new Error('disk gone'), { code: 'EIO' })
        const { rename } = await import('node:fs/promises')
        await rename(a, b)
      },
    }
    const { svc, read, dir } = project(files, { fs: failing })
    await expect(svc.rotate({ key: 'DB_PASSWORD' })).rejects.toThrow(/cannot write/)
    for (const [f, text] of Object.entries(files)) expect(read(f)).toBe(text)
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.bak'))).toEqual([])
  })
  it('refuses a read-only target before writing anything', async () => {
    const { svc, read, dir, auditText } = project(files)
    chmodSync(join(dir, '.env.prod'), 0o444)
    await expect(svc.rotate({ key: 'DB_PASSWORD' })).rejects.toThrow(/cannot write \.env\.prod: the file is read-only; nothing was changed/)
    for (const [f, text] of Object.entries(files)) expect(read(f)).toBe(text)
    expect(auditText()).toBe('')
  })
  it('fails the change when the audit event cannot be written', async () => {
    const audit: AuditLog = {
      append: async () => {
        throw Object.assign(new Error('audit down'), { code: 'AUDIT_WRITE_FAILED' })
      },
      read: async () => [],
      verify: async () => ({ ok: true, count: 0 }),
    }
    const { svc, read } = project(files, { audit })
    await expect(svc.rotate({ key: 'DB_PASSWORD' })).rejects.toThrow(/audit down/)
    for (const [f, text] of Object.entries(files)) expect(read(f)).toBe(text)
  })
  it('rotate-all touches secret-like keys only, in one write', async () => {
    const { svc, read } = project(files)
    const seen: string[] = []
    const r = await svc.rotateAll({ env: 'dev', onProgress: (_d, _t, k) => seen.push(k) })
    expect(r.rotated.map((x) => x.key)).toEqual(['DB_PASSWORD', 'DATABASE_URL', 'STRIPE_API_KEY'])
    expect(r.skipped).toEqual(['LOG_LEVEL'])
    expect(seen).toEqual(['DB_PASSWORD', 'DATABASE_URL', 'STRIPE_API_KEY'])
    expect(read('.env.dev')).toContain('LOG_LEVEL=debug\n')
  })
})

describe('encrypted files', () => {
  it('encrypts values in place, reads them transparently, keeps unchanged ciphertext, and decrypts back', async () => {
    const { svc, read } = project({ '.env.prod': PROD })
    const r = await svc.encrypt('prod')
    expect(r).toEqual({ encrypted: 4, unchanged: 0 })
    const enc = read('.env.prod')
    expect(enc).toContain('# prod — edit with care\r\n')
    expect(enc).toMatch(/^export DB_HOST=encrypted:v1:/m)
    expect(enc).toMatch(/^DB_PASSWORD='encrypted:v1:[^']+'\r$/m)
    expect(enc).not.toContain('prod_password_789')
    expect(await svc.get('DB_PASSWORD', 'prod')).toBe('prod_password_789')
    await svc.set('LOG_LEVEL', 'error', 'prod')
    await svc.set('NEW_TOKEN', 'tok', 'prod')
    const after = read('.env.prod')
    const line = (t: string, k: string) => t.split('\r\n').find((l) => l.includes(`${k}=`))
    expect(line(after, 'DB_PASSWORD')).toBe(line(enc, 'DB_PASSWORD'))
    expect(line(after, 'LOG_LEVEL')).not.toBe(line(enc, 'LOG_LEVEL'))
    expect(line(after, 'NEW_TOKEN')).toMatch(/encrypted:v1:/)
    expect(await svc.encrypt('prod')).toEqual({ encrypted: 0, unchanged: 5 })
    await svc.decrypt('prod')
    expect(read('.env.prod')).toBe(PROD.replace('LOG_LEVEL=warn', 'LOG_LEVEL=error') + 'NEW_TOKEN=tok\r\n')
  })
  it('binds each value to its key: swapped ciphertexts do not decrypt', async () => {
    const { svc, read, dir } = project({ '.env.prod': 'A=one\nB=two\n' })
    await svc.encrypt('prod')
    const [a, b] = read('.env.prod').trim().split('\n').map((l) => l.split('=').slice(1).join('='))
    writeFileSync(join(dir, '.env.prod'), `A=${b}\nB=${a}\n`)
    await expect(svc.get('A', 'prod')).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
  })
  it('a wrong or missing key is a clear error that changes nothing', async () => {
    const p = project({ '.env.prod': PROD })
    await p.svc.encrypt('prod')
    const before = p.read('.env.prod')
    const wrong = createEnvService({ ...p.deps, keyring: createEnvKeyring({ project: 'demo', keyFile: join(p.dir, '.envault.key'), env: { ENVAULT_MASTER_KEY: 'b'.repeat(64) } }) })
    await expect(wrong.set('LOG_LEVEL', 'x', 'prod')).rejects.toThrow(/cannot decrypt LOG_LEVEL in \.env\.prod: wrong master key/)
    await expect(wrong.decrypt('prod')).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
    await expect(wrong.encrypt('prod')).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
    const none = createEnvService({ ...p.deps, keyring: createEnvKeyring({ project: 'demo', keyFile: join(p.dir, '.envault.key'), env: {} }) })
    await expect(none.getAll('prod')).rejects.toThrow(/no master key to read encrypted values: set ENVAULT_MASTER_KEY/)
    expect(p.read('.env.prod')).toBe(before)
  })
  it('creates a 0600 key file on first encrypt and refuses one readable by others', async () => {
    const p = project({ '.env.prod': 'A=1\n' }, { env: {} })
    await p.svc.encrypt('prod')
    const { statSync } = await import('node:fs')
    expect(statSync(join(p.dir, '.envault.key')).mode & 0o777).toBe(0o600)
    chmodSync(join(p.dir, '.envault.key'), 0o644)
    const again = createEnvService({ ...p.deps, keyring: createEnvKeyring({ project: 'demo', keyFile: join(p.dir, '.envault.key'), env: {} }) })
    await expect(again.get('A', 'prod')).rejects.toThrow(/readable by other users/)
  })
})

describe('for the rotation engine', () => {
  it('sets one key in several environments atomically, and restores the previous values', async () => {
    const { svc, read, auditText } = project({ '.env.dev': 'K=old\n', '.env.prod': 'OTHER=1\n' })
    const { previous } = await svc.setInEnvironments({ names: ['dev', 'prod'], key: 'K', value: 'new-value-123456', trigger: 'rotation' })
    expect(previous).toEqual([{ env: 'dev', value: 'old' }, { env: 'prod', value: undefined }])
    expect(read('.env.prod')).toBe('OTHER=1\nK=new-value-123456\n')
    await svc.restoreValues({ key: 'K', previous })
    expect(read('.env.dev')).toBe('K=old\n')
    expect(read('.env.prod')).toBe('OTHER=1\n')
    expect(auditText()).toContain('"trigger":"rotation"')
    expect(auditText()).toContain('secret.restore')
  })
  it('opens an environment as a SecretStore with read-back', async () => {
    const { svc } = project({ '.env.dev': 'A=1\nB=2\n' })
    const store = svc.openEnvironment('dev')
    await store.apply({ set: { C: '3' }, unset: ['A'] })
    expect([...(await store.getAll())]).toEqual([['B', '2'], ['C', '3']])
    expect(await store.list('C')).toEqual(['C'])
    expect(await store.get('A')).toBeUndefined()
  })
})

describe('serve reader', () => {
  it('serves a value changed on disk at once and audits reads by name', async () => {
    const { svc, dir, auditText } = project({ '.env.prod': 'STRIPE_API_KEY=sk_live_first_value\n' })
    const reader = svc.secretReader('prod')
    expect(await reader.read('STRIPE_API_KEY')).toBe('sk_live_first_value')
    writeFileSync(join(dir, '.env.prod'), 'STRIPE_API_KEY=sk_live_second_value_x\n')
    expect(await reader.read('STRIPE_API_KEY')).toBe('sk_live_second_value_x')
    expect(await reader.read('NOPE')).toBeUndefined()
    await Promise.all([reader.read('STRIPE_API_KEY'), reader.read('STRIPE_API_KEY')])
    const events = auditText().trim().split('\n').map((l) => JSON.parse(l) as AuditEvent)
    expect(events.every((e) => e.action === 'secret.read' && e.target === 'STRIPE_API_KEY')).toBe(true)
    expect(events.reduce((n, e) => n + Number(e.detail.count), 0)).toBe(4)
    expect(auditText()).not.toContain('second_value')
  })
})

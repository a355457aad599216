import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { parseDotenv, toMap } from '../../src/core/env/dotenv-parse.js'

// Seed 002's three files, verbatim.
const DEV = 'DB_HOST=localhost\nDB_PORT=5432\nDB_NAME=myapp_dev\nDB_PASSWORD=dev_password_123\nAPI_KEY=dev_key_abc123\nLOG_LEVEL=debug\nFEATURE_NEW_CHECKOUT=true\nFEATURE_DARK_MODE=false\nCACHE_TTL=300\n'
const STAGING = 'DB_HOST=staging-db.internal\nDB_PORT=5432\nDB_NAME=myapp_staging\nDB_PASSWORD=staging_password_456\nAPI_KEY=staging_key_def456\nLOG_LEVEL=info\nCACHE_TTL=600\n'
const PROD = 'DB_HOST=prod-db.internal\nDB_PORT=5432\nDB_NAME=myapp_prod\nDB_PASSWORD=prod_password_789\nLOG_LEVEL=warn\nCACHE_TTL=1200\n'

const SEED_CONFIG = 'project: my-project\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\nconflict_strategy: source_wins\nskip_keys:\n  - COMMIT_SHA\n  - BUILD_NUMBER\n'

function setup() {
  const dir = tempDir('envault-seed-')
  const env = { REKEY_ACTOR: 'ci-bot' }
  const ev = (...args: string[]) => spawnBin('envault', args, { cwd: dir, env })
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  const values = (f: string) => toMap(parseDotenv(read(f)))
  return { dir, ev, read, values, env }
}

describe('seed 002: the envault tutorial on the built bin', () => {
  it('runs every step of the tutorial', async () => {
    const { dir, ev, read, values } = setup()
    // 2. init
    let r = await ev('init', 'my-project')
    expect(r.code).toBe(0)
    expect(read('.envault.yml')).toBe(SEED_CONFIG)
    expect((await ev('init', 'my-project')).stderr).toMatch(/already exists; nothing was changed/)
    writeFileSync(join(dir, '.env.dev'), DEV)
    writeFileSync(join(dir, '.env.staging'), STAGING)
    writeFileSync(join(dir, '.env.prod'), PROD)

    // 3. diff, with values revealed: the seed's layout (keys in file order)
    r = await ev('diff', 'dev', 'prod', '--show-values')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      [
        '═══ Diff: dev → prod ═══',
        '',
        'Only in dev:',
        '  API_KEY=dev_key_abc123',
        '  FEATURE_NEW_CHECKOUT=true',
        '  FEATURE_DARK_MODE=false',
        '',
        'Only in prod:',
        '  (none)',
        '',
        'Different values:',
        '  DB_HOST: localhost → prod-db.internal',
        '  DB_NAME: myapp_dev → myapp_prod',
        '  DB_PASSWORD: dev_password_123 → prod_password_789',
        '  LOG_LEVEL: debug → warn',
        '  CACHE_TTL: 300 → 1200',
        '',
        'Summary: 5 different values, 3 only in dev, 0 only in prod, 1 identical',
        '',
      ].join('\n'),
    )
    // masked by default; --exit-code reports drift
    r = await ev('diff', 'dev', 'prod', '--exit-code')
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('  DB_PASSWORD: *** → ***\n')
    expect(r.stdout).toContain('  API_KEY=***\n')
    expect(r.stdout).toContain('  DB_HOST: localhost → prod-db.internal\n')
    expect(r.stdout).not.toMatch(/dev_password_123|prod_password_789|dev_key_abc123/)
    r = await ev('diff-files', '.env.dev', '.env.prod')
    expect(r.stdout.split('\n')[0]).toBe('═══ Diff: .env.dev → .env.prod ═══')
    expect(r.stdout).toContain('  LOG_LEVEL: debug → warn\n')
    const json = JSON.parse((await ev('diff', 'dev', 'prod', '--json')).stdout) as { different: { key: string }[] }
    expect(json.different.map((d: { key: string }) => d.key)).toEqual(['DB_HOST', 'DB_NAME', 'DB_PASSWORD', 'LOG_LEVEL', 'CACHE_TTL'])

    // 4. sync: dry run first
    r = await ev('sync', 'dev', 'prod', '--dry-run')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^═══ Dry Run: sync dev → prod ═══\n\nWould add:\n {2}API_KEY=\*\*\*\n {2}FEATURE_NEW_CHECKOUT=true\n {2}FEATURE_DARK_MODE=false\n\nWould update:\n/)
    expect(r.stdout).toContain('  LOG_LEVEL: warn → debug\n')
    expect(r.stdout).toContain('  CACHE_TTL: 1200 → 300\n')
    expect(read('.env.prod')).toBe(PROD)
    // the strategies and flags from the tutorial
    r = await ev('sync', 'dev', 'prod', '--strategy', 'target_wins')
    expect(r.code).toBe(0)
    expect(values('.env.prod').get('LOG_LEVEL')).toBe('warn')
    expect(values('.env.prod').get('FEATURE_NEW_CHECKOUT')).toBe('true')
    expect((await ev('sync', 'dev', 'prod', '--skip', 'LOG_LEVEL', '--skip', 'CACHE_TTL')).code).toBe(0)
    expect(values('.env.prod').get('LOG_LEVEL')).toBe('warn')
    expect(values('.env.prod').get('DB_HOST')).toBe('localhost')
    writeFileSync(join(dir, '.env.prod'), read('.env.prod') + 'LEGACY_FLAG=1\n')
    r = await ev('sync', 'dev', 'prod', '--allow-delete')
    expect(r.code).toBe(0)
    expect(values('.env.prod').has('LEGACY_FLAG')).toBe(false)
    expect((await ev('sync', 'dev', 'prod', '--strategy', 'newest')).code).toBe(2)
    r = await ev('diff', 'dev', 'prod')
    expect(r.stdout).toContain('Summary: no differences (9 keys identical)')
    expect(r.stdout).not.toContain('different values')

    // 5. rotate with type inference
    r = await ev('rotate', 'DB_PASSWORD')
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toBe('Key: DB_PASSWORD')
    expect(lines[1]).toBe('Type: database password (inferred from key name)')
    expect(lines[2]).toMatch(/^Generated: \*\*\* /)
    expect(lines[3]).toBe('Updated in: .env.dev, .env.staging, .env.prod')
    const pw = values('.env.dev').get('DB_PASSWORD')!
    expect(pw).toHaveLength(20)
    expect(pw).not.toMatch(/[0O1lI]/)
    expect(values('.env.staging').get('DB_PASSWORD')).toBe(pw)
    expect(values('.env.prod').get('DB_PASSWORD')).toBe(pw)
    expect(r.stdout).not.toContain(pw)

    expect((await ev('set', 'JWT_SECRET', 'x'.repeat(40), '--env', 'dev')).code).toBe(0)
    r = await ev('rotate', 'JWT_SECRET', '--dry-run', '--show')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Type: JWT secret (256-bit base64) (inferred from key name)')
    const jwt = /^Generated: (.+)$/m.exec(r.stdout)![1]!
    expect(Buffer.from(jwt, 'base64')).toHaveLength(32)
    expect(values('.env.dev').get('JWT_SECRET')).toBe('x'.repeat(40))

    expect((await ev('set', 'WEBHOOK_SECRET', 'whsec_old_value_000', '--env', 'prod')).code).toBe(0)
    expect((await ev('rotate', 'WEBHOOK_SECRET', '--length', '64')).code).toBe(0)
    expect(values('.env.prod').get('WEBHOOK_SECRET')).toMatch(/^[0-9a-f]{64}$/)
    r = await ev('rotate', 'API_KEY', '--env', 'prod')
    expect(r.stdout).toContain('Updated in: .env.prod\n')
    expect(values('.env.prod').get('API_KEY')).toMatch(/^dev_key_[A-Za-z0-9]{32}$/)
    expect(values('.env.dev').get('API_KEY')).toBe('dev_key_abc123')
    r = await ev('rotate', 'LOG_LEVEL')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/LOG_LEVEL does not look like a secret/)

    const before = values('.env.prod')
    r = await ev('rotate-all', '--env', 'prod')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/pass --yes to confirm/)
    r = await ev('rotate-all', '--env', 'prod', '--yes')
    expect(r.code).toBe(0)
    const after = values('.env.prod')
    for (const k of ['DB_HOST', 'DB_PORT', 'DB_NAME', 'LOG_LEVEL', 'CACHE_TTL', 'FEATURE_NEW_CHECKOUT', 'FEATURE_DARK_MODE']) expect(after.get(k)).toBe(before.get(k))
    for (const k of ['DB_PASSWORD', 'API_KEY', 'WEBHOOK_SECRET']) expect(after.get(k)).not.toBe(before.get(k))
    expect(r.stderr).toMatch(/\[3\/3\] generated/)

    // 6. stores: not configured is a clear error, never a fallback to ./.env
    r = await ev('store', 'get', 'DB_PASSWORD', '--store', 'my-vault')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/store "my-vault" is not configured/)
    writeFileSync(join(dir, '.envault.yml'), SEED_CONFIG + 'stores:\n  my-vault:\n    type: vault\n    address: https://vault.internal\n  local:\n    type: local-file\n')
    r = await ev('store', 'list', '--store', 'my-vault')
    expect(r.stderr).toMatch(/"my-vault" is a HashiCorp Vault store, which is not available/)
    expect((await ev('store', 'set', 'DB_PASSWORD', 'store-value-123', '--store', 'local')).code).toBe(0)
    expect((await ev('store', 'get', 'DB_PASSWORD', '--store', 'local')).stdout).toBe('store-value-123\n')
    expect((await ev('store', 'list', '--store', 'local', '--prefix', 'DB_')).stdout).toBe('local:\n  DB_PASSWORD\n')
    expect((await ev('store', 'delete', 'DB_PASSWORD', '--store', 'local')).code).toBe(0)
    expect((await ev('store', 'get', 'DB_PASSWORD', '--store', 'local')).code).toBe(1)

    // 7. the CI drift check greps for "different values"
    r = await ev('diff', 'staging', 'prod')
    expect(r.stdout).toContain('different values')
  })

  it('is the same command as rh-envault and rekey env', async () => {
    const { dir, env } = setup()
    writeFileSync(join(dir, '.envault.yml'), SEED_CONFIG)
    writeFileSync(join(dir, '.env.dev'), DEV)
    writeFileSync(join(dir, '.env.prod'), PROD)
    const a = await spawnBin('envault', ['diff', 'dev', 'prod'], { cwd: dir, env })
    const b = await spawnBin('rekey', ['env', 'diff', 'dev', 'prod'], { cwd: dir, env })
    expect(b.code).toBe(0)
    expect(b.stdout).toBe(a.stdout)
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { bin: Record<string, string> }
    expect(pkg.bin['rh-envault']).toBe(pkg.bin.envault)
  })
})

describe('seed 000: propagating a new key', () => {
  it('set in staging, sync to prod and dev, then no difference for the key; the audit log tells the story', async () => {
    const { dir, ev, values } = setup()
    writeFileSync(join(dir, '.envault.yml'), SEED_CONFIG)
    writeFileSync(join(dir, '.env.dev'), DEV + 'STRIPE_API_KEY=sk_old_dev_value_1\n')
    writeFileSync(join(dir, '.env.staging'), STAGING + 'STRIPE_API_KEY=sk_old_stg_value_2\n')
    writeFileSync(join(dir, '.env.prod'), PROD + 'STRIPE_API_KEY=sk_old_prd_value_3\n')
    const NEW_KEY = 'ak_QmZ4cF9nY3RrN2p1VHV4eQ'
    expect((await ev('rotate', 'STRIPE_API_KEY', '--env', 'staging')).code).toBe(0)
    expect((await ev('set', 'STRIPE_API_KEY', NEW_KEY, '--env', 'staging')).code).toBe(0)
    expect((await ev('sync', 'staging', 'prod')).code).toBe(0)
    expect((await ev('sync', 'staging', 'dev')).code).toBe(0)
    for (const f of ['.env.dev', '.env.staging', '.env.prod']) expect(values(f).get('STRIPE_API_KEY')).toBe(NEW_KEY)
    for (const [a, b] of [['dev', 'prod'], ['staging', 'prod'], ['dev', 'staging']]) {
      const r = await ev('diff', a!, b!)
      expect(r.stdout).not.toContain('STRIPE_API_KEY')
    }
    // set via stdin keeps the value out of argv
    const viaStdin = await spawnBin('envault', ['set', 'STRIPE_API_KEY', '-', '--env', 'prod'], { cwd: dir, env: { REKEY_ACTOR: 'ci-bot' }, input: NEW_KEY + '\n' })
    expect(viaStdin.stdout).toMatch(/already has this value/)

    const log = await ev('audit-log')
    const lines = log.stdout.trim().split('\n')
    const ts = String.raw`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] `
    expect(lines[0]).toMatch(new RegExp(ts + 'ROTATE STRIPE_API_KEY env=staging user=ci-bot$'))
    expect(lines[1]).toMatch(new RegExp(ts + String.raw`SET STRIPE_API_KEY env=staging value=\*\*\* user=ci-bot$`))
    expect(lines[2]).toMatch(new RegExp(ts + 'SYNC staging → prod user=ci-bot$'))
    expect(lines[3]).toMatch(new RegExp(ts + 'SYNC staging → dev user=ci-bot$'))
    expect(log.stdout).not.toContain(NEW_KEY)
    const rot = await ev('audit-log', '--filter', 'rotate', '--env', 'staging', '--since', '24h')
    expect(rot.stdout.trim().split('\n')).toHaveLength(1)
    expect((await ev('audit-log', '--key', 'STRIPE_API_KEY', '--json')).stdout).toContain('"action":"secret.sync"')
    expect((await ev('audit-log', '--verify')).stdout).toMatch(/hash chain intact/)
  })
})

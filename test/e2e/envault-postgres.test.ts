import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DIST, runCli, spawnBin, tempDir } from '../helpers/cli.js'
import { PG_URL, serviceAvailable } from '../helpers/services.js'
import { freshSchema } from '../../src/adapters/postgres/test-schema.js'
import type { Pool } from '../../src/adapters/postgres/db.js'
import { openEnvaultProject } from '../../src/cli/commands/env-common.js'
import { createEnvaultServer } from '../../src/server/envault-serve.js'
import { systemClock, systemRandom } from '../../src/adapters/system/system.js'

/**
 * envault with one environment in a .env file and one in PostgreSQL (`prod: {store: pg}`), in
 * process through the CLI, against a real database: every command works on both, sync copies a
 * file into the database and back, and a planted secret never shows up where it must not.
 */
const pgUp = await serviceAvailable('postgres')
const MASTER = 'ab'.repeat(32)
const CANARY = 'CanaryPgS3cret-91e2'
const CONFIG = 'project: shop\nenvironments:\n  dev: .env.dev\n  prod: {store: pg}\nstores:\n  pg: {type: postgres}\nskip_keys: [COMMIT_SHA]\n'

describe.skipIf(!pgUp)('envault with a PostgreSQL environment', () => {
  let db: { pool: Pool; schema: string; drop(): Promise<void> }
  beforeAll(async () => {
    db = await freshSchema(PG_URL)
  })
  afterAll(async () => db.drop())

  function project(config = CONFIG, dev = '# dev settings\nexport DB_HOST=localhost\nDB_PASSWORD=dev_password_123\nLOG_LEVEL=debug\nCOMMIT_SHA=abc\n') {
    const dir = tempDir('envault-pg-')
    writeFileSync(join(dir, '.envault.yml'), config)
    writeFileSync(join(dir, '.env.dev'), dev)
    const env: Record<string, string> = { HOME: dir, REKEY_ACTOR: 'ci-bot', REKEY_DATABASE_URL: PG_URL, REKEY_DATABASE_SCHEMA: db.schema, REKEY_MASTER_KEY: MASTER }
    const ev = (args: string[], o: { env?: Record<string, string>; input?: string } = {}) => runCli('envault', args, { cwd: dir, env: { ...env, ...o.env }, ...(o.input === undefined ? {} : { input: o.input }) })
    const audit = () => (existsSync(join(dir, '.envault-audit.log')) ? readFileSync(join(dir, '.envault-audit.log'), 'utf8') : '')
    return { dir, env, ev, audit, dev: () => readFileSync(join(dir, '.env.dev'), 'utf8') }
  }
  /** Every stored row of an environment, as text (what a database dump would show). */
  const dump = async (envName: string) => JSON.stringify((await db.pool.query('SELECT * FROM secret_versions WHERE env = $1', [envName])).rows.map((r: Record<string, unknown>) => Object.values(r).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))))

  it('set, get, list, diff, sync, rotate, export and audit-log across a file and PostgreSQL', async () => {
    const { ev, dev, audit } = project(CONFIG.replace('{store: pg}', '{store: pg, env: shop-prod}'))
    const set = await ev(['set', 'DB_HOST', 'prod-db.internal', '--env', 'prod'])
    expect(set.stdout).toBe('✓ Set DB_HOST in prod (store:pg/shop-prod)\n')
    expect(set.code).toBe(0)
    expect((await ev(['set', 'DB_PASSWORD', '-', '--env', 'prod'], { input: 'prod_password_789\n' })).code).toBe(0)
    expect((await ev(['get', 'DB_PASSWORD', '--env', 'prod'])).stdout).toBe('prod_password_789\n')
    expect((await ev(['list', '--env', 'prod'])).stdout).toBe('DB_HOST=prod-db.internal\nDB_PASSWORD=***\n')

    const diff = await ev(['diff', 'dev', 'prod', '--exit-code'])
    expect(diff.code).toBe(1)
    expect(diff.stdout).toContain('═══ Diff: dev → prod ═══')
    expect(diff.stdout).toContain('  DB_HOST: localhost → prod-db.internal')
    expect(diff.stdout).toMatch(/different values/)
    expect(diff.stdout).not.toContain('prod_password_789')

    // A .env file into PostgreSQL, bit for bit (skip_keys honoured), then back into the file.
    const dry = await ev(['sync', 'dev', 'prod', '--dry-run'])
    expect(dry.stdout).toContain('═══ Dry Run: sync dev → prod ═══')
    expect(dry.stdout).toContain('Would add:\n  LOG_LEVEL=debug\n')
    expect(dry.stdout).toContain('Would update:\n  DB_HOST: prod-db.internal → localhost\n  DB_PASSWORD: *** → ***\n')
    expect((await ev(['get', 'LOG_LEVEL', '--env', 'prod'])).code).toBe(1)
    expect((await ev(['sync', 'dev', 'prod'])).code).toBe(0)
    expect((await ev(['get', 'DB_HOST', '--env', 'prod'])).stdout).toBe('localhost\n')
    expect((await ev(['get', 'COMMIT_SHA', '--env', 'prod'])).code).toBe(1)
    // Only the skipped key differs now.
    expect(JSON.parse((await ev(['diff', 'dev', 'prod', '--json'])).stdout)).toMatchObject({ onlyInSource: [{ key: 'COMMIT_SHA' }], onlyInTarget: [], different: [] })
    expect((await ev(['set', 'FEATURE_X', 'on', '--env', 'prod'])).code).toBe(0)
    expect((await ev(['sync', 'prod', 'dev'])).code).toBe(0)
    expect(dev()).toBe('# dev settings\nexport DB_HOST=localhost\nDB_PASSWORD=dev_password_123\nLOG_LEVEL=debug\nCOMMIT_SHA=abc\nFEATURE_X=on\n')

    // One new value in the file and in the database.
    const rot = await ev(['rotate', 'DB_PASSWORD', '--show'])
    expect(rot.code).toBe(0)
    expect(rot.stdout).toContain('Updated in: .env.dev, store:pg/shop-prod')
    const value = /Generated: (.*)\n/.exec(rot.stdout)![1]!
    expect((await ev(['get', 'DB_PASSWORD', '--env', 'prod'])).stdout).toBe(`${value}\n`)
    expect((await ev(['get', 'DB_PASSWORD', '--env', 'dev'])).stdout).toBe(`${value}\n`)
    const all = await ev(['rotate-all', '--env', 'prod', '--yes', '--json'])
    expect(JSON.parse(all.stdout)).toMatchObject({ env: 'prod', file: 'store:pg/shop-prod', rotated: [{ key: 'DB_PASSWORD' }] })

    const exp = await ev(['export', '--env', 'prod', '--format', 'json'])
    expect(Object.keys(JSON.parse(exp.stdout) as object).sort()).toEqual(['DB_HOST', 'DB_PASSWORD', 'FEATURE_X', 'LOG_LEVEL'])
    expect((await ev(['unset', 'FEATURE_X', '--env', 'prod'])).stdout).toBe('✓ Removed FEATURE_X from prod (store:pg/shop-prod)\n')

    const log = await ev(['audit-log', '--env', 'prod'])
    expect(log.stdout).toMatch(/SET DB_HOST env=prod value=\*\*\* user=ci-bot/)
    expect(log.stdout).toMatch(/SYNC dev → prod user=ci-bot/)
    expect(log.stdout).toMatch(/ROTATE DB_PASSWORD env=prod user=ci-bot/)
    expect((await ev(['audit-log', '--verify'])).stdout).toMatch(/hash chain intact/)
    expect(audit()).not.toContain('prod_password_789')
    // The values are in PostgreSQL under the env name given, sealed.
    expect(await dump('shop-prod')).not.toContain('prod-db.internal')
    expect((await db.pool.query("SELECT count(*)::int AS n FROM secret_versions WHERE env = 'shop-prod'")).rows[0]).toMatchObject({ n: expect.any(Number) as number })
  })

  it('REKEY_DATABASE_URL alone keeps files as files; --backend postgres (or REKEY_ENV_BACKEND) moves them', async () => {
    const { ev, dev } = project('project: p\nenvironments:\n  dev: .env.dev\n')
    expect((await ev(['set', 'ONLY_FILE', 'yes', '--env', 'dev'])).stdout).toBe('✓ Set ONLY_FILE in dev (.env.dev)\n')
    expect(dev()).toContain('ONLY_FILE=yes')
    const moved = await ev(['--backend', 'postgres', 'set', 'IN_DB', 'yes', '--env', 'dev'])
    expect(moved.stdout).toBe('✓ Set IN_DB in dev (store:postgres)\n')
    expect(dev()).not.toContain('IN_DB')
    expect((await ev(['get', 'IN_DB', '--env', 'dev'], { env: { REKEY_ENV_BACKEND: 'postgres' } })).stdout).toBe('yes\n')
    expect((await ev(['get', 'IN_DB', '--env', 'dev'])).code).toBe(1)
    const bad = await ev(['--backend', 'mongo', 'list', '--env', 'dev'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/invalid --backend "mongo": use file or postgres/)
  })

  it('bad input: unknown store, no database, wrong master key, vault not configured: clear errors, nothing written', async () => {
    const unknown = project(CONFIG.replace('{store: pg}', '{store: pgx}'))
    const r1 = await unknown.ev(['list', '--env', 'prod'])
    expect(r1.code).toBe(2)
    expect(r1.stderr).toMatch(/line 4: environments\.prod\.store: unknown store "pgx" \(configured stores: pg\)/)

    const p = project()
    const noDb = await p.ev(['set', 'K', 'v', '--env', 'prod'], { env: { REKEY_DATABASE_URL: '' } })
    expect(noDb.code).toBe(2)
    expect(noDb.stderr).toMatch(/store "pg" is a postgres store, but REKEY_DATABASE_URL is not set; nothing was read or written/)
    // Files keep working without a database.
    expect((await p.ev(['get', 'DB_HOST', '--env', 'dev'], { env: { REKEY_DATABASE_URL: '' } })).stdout).toBe('localhost\n')

    expect((await p.ev(['set', 'API_TOKEN', 'tok-original-1', '--env', 'prod'])).code).toBe(0)
    const wrong = await p.ev(['set', 'API_TOKEN', 'tok-changed-2', '--env', 'prod'], { env: { REKEY_MASTER_KEY: 'cd'.repeat(32) } })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/store "pg": the master key from REKEY_MASTER_KEY does not open the database's data key/)
    const wrongSync = await p.ev(['sync', 'dev', 'prod'], { env: { REKEY_MASTER_KEY: 'cd'.repeat(32) } })
    expect(wrongSync.code).toBe(1)
    expect((await p.ev(['get', 'API_TOKEN', '--env', 'prod'])).stdout).toBe('tok-original-1\n')
    expect((await p.ev(['get', 'DB_HOST', '--env', 'prod'])).code).toBe(1)

    const vault = project(CONFIG.replace('{store: pg}', '{store: v}').replace('  pg: {type: postgres}\n', '  pg: {type: postgres}\n  v: {type: vault}\n'))
    const r4 = await vault.ev(['get', 'X', '--env', 'prod'])
    expect(r4.code).toBe(1)
    expect(r4.stderr).toMatch(/store "v" is a HashiCorp Vault store, which is not available in this version of envault; nothing was read or written/)
    expect((await p.ev(['encrypt', '--env', 'prod'])).stderr).toMatch(/prod lives in store:pg, which encrypts every value itself/)
  })

  it('the secret canary never appears in diff, sync, rotate, list, audit-log, the audit file or the database', async () => {
    const { ev, audit } = project(CONFIG, `DB_PASSWORD=${CANARY}\nSTRIPE_API_KEY=sk_live_${CANARY}\nLOG_LEVEL=debug\n`)
    expect((await ev(['set', 'DB_PASSWORD', '-', '--env', 'prod'], { input: `prod-${CANARY}` })).code).toBe(0)
    const outputs: string[] = []
    for (const args of [
      ['diff', 'dev', 'prod'],
      ['diff', 'dev', 'prod', '--json'],
      ['sync', 'dev', 'prod', '--dry-run'],
      ['sync', 'dev', 'prod', '--dry-run', '--json'],
      ['sync', 'dev', 'prod', '--strategy', 'error'],
      ['sync', 'dev', 'prod'],
      ['list', '--env', 'prod'],
      ['list', '--env', 'prod', '--json'],
      ['rotate', 'STRIPE_API_KEY'],
      ['rotate', 'DB_PASSWORD', '--env', 'prod', '--json'],
      ['audit-log'],
      ['audit-log', '--json'],
    ]) {
      const r = await ev(args)
      outputs.push(`${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
    }
    for (const o of outputs) expect(o).not.toContain(CANARY)
    expect(audit()).not.toContain(CANARY)
    expect(audit()).not.toContain(CANARY.slice(-8))
    expect(await dump('prod')).not.toContain(CANARY)
    expect(outputs.join('\n')).toMatch(/SYNC dev → prod/)
  })

  it('serve answers from PostgreSQL over a real socket (a change is served at once, reads audited); run injects it', async () => {
    const { dir, env, ev, audit } = project()
    expect((await ev(['set', 'API_TOKEN', 'tok-served-1', '--env', 'prod'])).code).toBe(0)
    const p = await openEnvaultProject({ cwd: dir, env, actor: 'svc', clock: systemClock, random: systemRandom })
    const srv = createEnvaultServer({ reader: p.service.secretReader('prod'), token: 'bearer-token-123', host: '127.0.0.1', port: 0 })
    const { port } = await srv.listen()
    try {
      const get = (path: string, token = 'bearer-token-123') => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } })
      expect(await (await get('/secrets/API_TOKEN')).json()).toEqual({ key: 'API_TOKEN', value: 'tok-served-1' })
      expect((await get('/secrets/API_TOKEN', 'wrong')).status).toBe(401)
      expect((await ev(['set', 'API_TOKEN', 'tok-served-2', '--env', 'prod'])).code).toBe(0)
      expect(await (await get('/secrets/API_TOKEN')).json()).toEqual({ key: 'API_TOKEN', value: 'tok-served-2' })
      expect(await (await get('/secrets?prefix=API')).json()).toMatchObject({ keys: ['API_TOKEN'] })
    } finally {
      await srv.close()
      await p.close()
    }
    expect(audit()).toMatch(/"action":"secret\.read","target":"API_TOKEN","env":"prod"/)
    const run = await ev(['run', '--env', 'prod', '--', process.execPath, '-e', "require('fs').writeFileSync('out.txt', process.env.API_TOKEN)"])
    expect(run.code).toBe(0)
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('tok-served-2')
  })

  it.skipIf(!existsSync(join(DIST, 'cli', 'envault.js')))('the built bin exits promptly after using PostgreSQL (connections closed)', async () => {
    const { dir, env } = project()
    expect((await spawnBin('envault', ['set', 'BIN_KEY', 'from-bin', '--env', 'prod'], { cwd: dir, env, timeoutMs: 20_000 })).code).toBe(0)
    const r = await spawnBin('envault', ['get', 'BIN_KEY', '--env', 'prod'], { cwd: dir, env, timeoutMs: 20_000 })
    expect(r).toMatchObject({ code: 0, stdout: 'from-bin\n' })
  })
})

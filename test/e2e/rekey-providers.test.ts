import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { withCredentials } from '../../src/adapters/providers/postgres-provider.js'
import { scramMatches } from '../emulators/pg-scram.js'
import { MARIADB_URL, PG_URL, REDIS_URL, serviceAvailable } from '../helpers/services.js'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { ENVS, envValue } from './rekey-helpers.js'

/**
 * `rekey rotate` end to end against the real PostgreSQL, MariaDB and Redis on this machine: the
 * env files move to the other role/user (or the new ACL password), the new login works, the old
 * one keeps working until the revocation gate opens (new login seen in use, old one idle), and
 * is refused afterwards.
 */
function project(dir: string, variable: string, initial: string, policy: string[]): void {
  writeFileSync(join(dir, '.envault.yml'), 'project: db\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\n')
  for (const e of ENVS) writeFileSync(join(dir, `.env.${e}`), `${variable}=${initial}\n`)
  writeFileSync(join(dir, 'rekey.yml'), ['rotations:', `  ${variable}:`, '    targets: [staging, prod, dev]', '    grace: "0"', '    revoke: { idle: "0", max: 1d }', ...policy.map((l) => `    ${l}`), ''].join('\n'))
}

const pgUp = await serviceAvailable('postgres')
const myUp = await serviceAvailable('mariadb')
const redisUp = await serviceAvailable('redis')

describe.skipIf(!pgUp)('rekey rotate with the postgres provider (real server)', () => {
  it('alternates roles, waits for the new role to be used, then revokes the old one', async () => {
    const dir = tempDir()
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    const tag = randomBytes(4).toString('hex')
    const [a, b] = [`app_a_${tag}`, `app_b_${tag}`]
    const held: pg.Client[] = []
    try {
      for (const r of [a, b]) await admin.query(`CREATE ROLE ${r} LOGIN PASSWORD 'initial-${tag}'`)
      const initial = withCredentials(PG_URL, a, `initial-${tag}`)
      project(dir, 'DATABASE_URL', initial, ['provider: postgres', 'url_env: REKEY_PG_ADMIN', `roles: [${a}, ${b}]`])
      const env = { REKEY_PG_ADMIN: PG_URL }
      const r = await spawnBin('rekey', ['rotate', 'DATABASE_URL'], { cwd: dir, env })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('State: draining: new credential not yet seen in use')
      const next = envValue(dir, 'prod', 'DATABASE_URL')!
      const u = new URL(next)
      expect(u.username).toBe(b)
      for (const e of ENVS) expect(envValue(dir, e, 'DATABASE_URL')).toBe(next)
      expect(await scramMatches(admin, b, decodeURIComponent(u.password))).toBe(true)
      // both logins work during the grace period
      const canLogin = async (role: string) => (await admin.query<{ c: boolean }>('SELECT rolcanlogin AS c FROM pg_roles WHERE rolname = $1', [role])).rows[0]?.c
      expect(await canLogin(a)).toBe(true)
      // a consumer picks up the new URL
      const consumer = new pg.Client({ connectionString: next })
      await consumer.connect()
      held.push(consumer)
      const tick = await spawnBin('rekey', ['tick', '--json'], { cwd: dir, env })
      expect(tick.code, tick.stderr).toBe(0)
      expect(JSON.parse(tick.stdout)).toMatchObject({ resumed: [{ secret: 'DATABASE_URL', state: 'done' }] })
      expect(await canLogin(a)).toBe(false)
      expect(await canLogin(b)).toBe(true)
    } finally {
      for (const c of held) await c.end().catch(() => undefined)
      for (const r of [a, b]) await admin.query(`DROP ROLE IF EXISTS ${r}`)
      await admin.end()
    }
  })
})

describe.skipIf(!myUp)('rekey rotate with the mariadb provider (real server)', () => {
  it('alternates users and locks the old one once the new one is in use', async () => {
    const dir = tempDir()
    const admin = await mysql.createConnection({ uri: MARIADB_URL })
    const tag = randomBytes(4).toString('hex')
    const [a, b] = [`app_a_${tag}`, `app_b_${tag}`]
    const held: mysql.Connection[] = []
    try {
      for (const u of [a, b]) await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [u, '%', `initial-${tag}`])
      const initial = withCredentials(MARIADB_URL, a, `initial-${tag}`).replace(/\/test$/, '/')
      project(dir, 'MYSQL_URL', initial, ['provider: mariadb', `url: "${MARIADB_URL}"`, `roles: [${a}, ${b}]`])
      const r = await spawnBin('rekey', ['rotate', 'MYSQL_URL'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      const next = envValue(dir, 'dev', 'MYSQL_URL')!
      expect(new URL(next).username).toBe(b)
      held.push(await mysql.createConnection({ uri: next }))
      await expect(mysql.createConnection({ uri: initial }).then((c) => c.end())).resolves.toBeUndefined()
      const tick = await spawnBin('rekey', ['tick'], { cwd: dir })
      expect(tick.code, tick.stderr).toBe(0)
      expect(tick.stdout).toMatch(/resumed MYSQL_URL: run rot_\w+ done/)
      await expect(mysql.createConnection({ uri: initial })).rejects.toMatchObject({ code: expect.stringMatching(/ACCESS_DENIED|LOCKED/) })
    } finally {
      for (const c of held) await c.end().catch(() => undefined)
      for (const u of [a, b]) await admin.query('DROP USER IF EXISTS ?@?', [u, '%'])
      await admin.end()
    }
  })
})

describe.skipIf(!redisUp)('rekey rotate with the redis provider (real server)', () => {
  it('adds the new ACL password, then removes the old one (no usage data: at the end of grace)', async () => {
    const dir = tempDir()
    const admin = new Redis(REDIS_URL)
    const user = `app_${randomBytes(4).toString('hex')}`
    const auth = async (url: string) => {
      const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      c.on('error', () => undefined)
      try {
        await c.connect()
        return (await c.ping()) === 'PONG'
      } catch {
        return false
      } finally {
        c.disconnect()
      }
    }
    try {
      await admin.call('ACL', 'SETUSER', user, 'on', `>initial-${user}`, '~*', '+@all')
      const initial = withCredentials(REDIS_URL, user, `initial-${user}`)
      project(dir, 'REDIS_URL', initial, ['provider: redis', `url: "${REDIS_URL}"`, `user: ${user}`])
      const r = await spawnBin('rekey', ['rotate', 'REDIS_URL'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('State: done')
      const next = envValue(dir, 'staging', 'REDIS_URL')!
      expect(next).not.toBe(initial)
      expect(await auth(next)).toBe(true)
      expect(await auth(initial)).toBe(false)
    } finally {
      await admin.call('ACL', 'DELUSER', user)
      admin.disconnect()
    }
  })
})

describe('rekey rotate with the http provider (local emulator of the webhook contract)', () => {
  it('single-credential provider: refused without allow_interruption; with it, swapped in place and the interruption reported', async () => {
    const { startHttpProviderEmulator } = await import('../emulators/http-provider-emulator.js')
    const emu = await startHttpProviderEmulator({ singleCredential: true })
    const dir = tempDir()
    try {
      const initial = 'http-initial-credential-000111'
      emu.seed(initial)
      const policy = ['provider: http', `endpoint: "${emu.url}"`, 'signing_secret_env: HOOK_SECRET', 'single_credential: true']
      project(dir, 'VENDOR_KEY', initial, policy)
      const env = { HOOK_SECRET: emu.secret }
      const refused = await spawnBin('rekey', ['rotate', 'VENDOR_KEY'], { cwd: dir, env })
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain('error: VENDOR_KEY: provider http allows one credential at a time; set allow_interruption: true to accept a short interruption')
      project(dir, 'VENDOR_KEY', initial, [...policy, 'allow_interruption: true'])
      const r = await spawnBin('rekey', ['rotate', 'VENDOR_KEY', '--json'], { cwd: dir, env })
      expect(r.code, r.stderr).toBe(0)
      const out = JSON.parse(r.stdout) as { run: { state: string; interruption_ms: number } }
      expect(out.run.state).toBe('done')
      expect(out.run.interruption_ms).toBeGreaterThanOrEqual(0)
      const next = envValue(dir, 'prod', 'VENDOR_KEY')!
      expect(emu.authenticate(next)).toBe(true)
      expect(emu.authenticate(initial)).toBe(false)
      expect(emu.requests.every((q) => q.signed)).toBe(true)
    } finally {
      await emu.close()
    }
  })
})

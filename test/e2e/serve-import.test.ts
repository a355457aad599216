import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { serviceAvailable } from '../helpers/services.js'
import { api, cliToken, MASTER, pgEnv, spawnServe } from './serve-helpers.js'

const keyOf = (out: string, label: string) => out.split('\n').find((l) => l.includes(label))!.trim().split(/\s+/).pop()!

describe.skipIf(!(await serviceAvailable('postgres')))('rekey db import, tokens and master rotate (built bin)', () => {
  it('moves the file keystore and env files into PostgreSQL: every key verifies the same, values read back exactly', async () => {
    const db = await pgEnv()
    const dir = tempDir()
    const keyDir = join(dir, 'keys')
    const fileEnv = { HOME: dir, APIAUTH_MASTER_KEY: MASTER }
    const g1 = await spawnBin('apiauth', ['generate', 'api-key', '--name', 'one', '--service', 'api-gateway', '-d', keyDir], { env: fileEnv })
    expect(g1.code).toBe(0)
    const k1 = keyOf(g1.stdout, 'Key:')
    const id1 = /API key ([0-9a-f]{12}) created/.exec(g1.stdout)![1]!
    const rot = await spawnBin('apiauth', ['rotate', id1, '--grace', '24h', '-d', keyDir], { env: fileEnv })
    expect(rot.code).toBe(0)
    const k1b = keyOf(rot.stdout, 'New key:')
    const g2 = await spawnBin('apiauth', ['generate', 'api-key', '--name', 'two', '--service', 'billing', '-d', keyDir], { env: fileEnv })
    const k2 = keyOf(g2.stdout, 'Key:')
    const id2 = /API key ([0-9a-f]{12}) created/.exec(g2.stdout)![1]!
    expect((await spawnBin('apiauth', ['revoke', id2, '-d', keyDir], { env: fileEnv })).code).toBe(0)
    const gj = await spawnBin('apiauth', ['generate', 'jwt', '--name', 'tok', '--service', 'svc', '-d', keyDir], { env: fileEnv })
    expect(gj.code).toBe(0)
    const jwt = keyOf(gj.stdout, 'Token:')
    const envFile = join(dir, '.env.prod')
    writeFileSync(envFile, 'DB_PASSWORD="p@ss word#1"\nexport API_URL=https://api.example.com\nMULTI="line1\\nline2"\nEMPTY=\n')

    const env = { ...db.env, HOME: dir, APIAUTH_MASTER_KEY: MASTER }
    const imp = await spawnBin('rekey', ['db', 'import', '-d', keyDir, '--dotenv', `prod=${envFile}`], { env })
    expect(imp.stderr).toBe('')
    expect(imp.code).toBe(0)
    expect(imp.stdout).toContain('✓ Imported 3 key(s) (0 already present)')
    expect(imp.stdout).toContain('✓ Imported 4 variable(s) into prod (0 unchanged)')
    const again = await spawnBin('rekey', ['db', 'import', '-d', keyDir, '--dotenv', `prod=${envFile}`, '--json'], { env })
    expect(JSON.parse(again.stdout)).toMatchObject({ keys: { found: 3, imported: 0 }, environments: [{ env: 'prod', set: 0, unchanged: 4 }] })

    const admin = await cliToken(env, 'admin')
    const s = await spawnServe(env)
    const verify = async (key: string) => (await api(s.url, 'POST', '/v1/keys/verify', admin, { key })).json
    expect(await verify(k1b)).toMatchObject({ valid: true, id: id1, version: 2, deprecated: false })
    expect(await verify(k1)).toMatchObject({ valid: true, id: id1, version: 1, deprecated: true })
    expect(await verify(k2)).toMatchObject({ valid: false, status: 'REVOKED', id: id2 })
    expect(await verify(jwt)).toMatchObject({ valid: true })
    const get = async (n: string) => (await api(s.url, 'GET', `/v1/envs/prod/secrets/${n}`, admin)).json.value
    expect(await get('DB_PASSWORD')).toBe('p@ss word#1')
    expect(await get('API_URL')).toBe('https://api.example.com')
    expect(await get('MULTI')).toBe('line1\nline2')
    expect(await get('EMPTY')).toBe('')
    expect(await s.stop()).toBe(0)
  })

  it('refuses bad input with one clear line and changes nothing', async () => {
    const db = await pgEnv()
    const dir = tempDir()
    const noDb = await spawnBin('rekey', ['db', 'migrate'], { env: { HOME: dir } })
    expect(noDb.code).toBe(2)
    expect(noDb.stderr).toBe('error: no database: set REKEY_DATABASE_URL (postgres://user@host:5432/db) or pass --database-url\n')
    const badScope = await spawnBin('rekey', ['tokens', 'create', '--name', 'x', '--scope', 'env:prod:delete'], { env: db.env })
    expect(badScope.code).toBe(2)
    expect(badScope.stderr).toContain('invalid scope "env:prod:delete"')
    // The first opener created the data key wrapped by MASTER; another master key cannot open it.
    expect((await spawnBin('rekey', ['tokens', 'list'], { env: db.env })).code).toBe(0)
    const wrong2 = await spawnBin('rekey', ['tokens', 'list'], { env: { ...db.env, REKEY_MASTER_KEY: 'f'.repeat(64) } })
    expect(wrong2.code).toBe(1)
    expect(wrong2.stderr).toContain('does not open the database')
    expect(wrong2.stderr).not.toContain('f'.repeat(64))
    const badFile = await spawnBin('rekey', ['db', 'import', '--no-keys', '--dotenv', `prod=${join(dir, 'missing.env')}`], { env: db.env })
    expect(badFile.code).toBe(1)
    expect(badFile.stderr).toContain('missing.env (environment prod)')
    const badRevoke = await spawnBin('rekey', ['tokens', 'revoke', 'nope'], { env: db.env })
    expect(badRevoke.code).toBe(2)
    const unknown = await spawnBin('rekey', ['tokens', 'revoke', 'tok_0000000000000000'], { env: db.env })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe('error: no token tok_0000000000000000\n')
  })

  it('master rotate re-wraps the data key while a server keeps serving; the old key no longer starts one', async () => {
    const db = await pgEnv()
    const admin = await cliToken(db.env, 'admin')
    const s = await spawnServe(db.env)
    await api(s.url, 'PUT', '/v1/envs/prod/secrets/KEEP', admin, { value: 'kept-value' })
    const next = '1'.repeat(64)
    const r = await spawnBin('rekey', ['master', 'rotate'], { env: { ...db.env, REKEY_NEW_MASTER_KEY: next } })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('✓ Re-wrapped 1 data key(s) under the new master key\n  Running instances keep serving; start new ones with the new master key.\n')
    expect((await api(s.url, 'GET', '/v1/envs/prod/secrets/KEEP', admin)).json.value).toBe('kept-value')
    const same = await spawnBin('rekey', ['master', 'rotate'], { env: { ...db.env, REKEY_MASTER_KEY: next, REKEY_NEW_MASTER_KEY: next } })
    expect(same.code).toBe(2)
    await expect(spawnServe(db.env)).rejects.toThrow(/does not open the database/)
    const s2 = await spawnServe({ ...db.env, REKEY_MASTER_KEY: next })
    expect((await api(s2.url, 'GET', '/v1/envs/prod/secrets/KEEP', admin)).json.value).toBe('kept-value')
    const audit = (await api(s2.url, 'GET', '/v1/audit?action=master_key', admin)).json.events as { action: string }[]
    expect(audit.map((e) => e.action)).toEqual(['master_key.rotate'])
  })
})

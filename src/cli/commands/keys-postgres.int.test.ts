import { describe, expect, it, onTestFinished } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { runCli, tempDir } from '../../../test/helpers/cli.js'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { freshSchema } from '../../adapters/postgres/test-schema.js'

describe.skipIf(!(await serviceAvailable('postgres')))('apiauth on the PostgreSQL backend (REKEY_DATABASE_URL)', () => {
  it('generates, rotates, verifies and revokes in PostgreSQL, writing no keystore file', async () => {
    const db = await freshSchema(PG_URL)
    onTestFinished(() => db.drop())
    const keyDir = join(tempDir(), 'keys')
    const env = { HOME: tempDir(), REKEY_DATABASE_URL: PG_URL, REKEY_DATABASE_SCHEMA: db.schema, APIAUTH_MASTER_KEY: randomBytes(32).toString('hex') }
    const gen = await runCli('apiauth', ['generate', 'api-key', '--name', 'PG Key', '--service', 'api-gateway', '-d', keyDir], { env })
    expect(gen.code).toBe(0)
    const id = /API key ([0-9a-f]{12}) created/.exec(gen.stdout)![1]!
    const key1 = /Key: (\S+)/.exec(gen.stdout)![1]!
    const rot = await runCli('apiauth', ['rotate', id, '-d', keyDir], { env })
    expect(rot.stdout).toContain(`✓ Rotated ${id} (v2)`)
    const key2 = /New key: (\S+)/.exec(rot.stdout)![1]!
    expect((await runCli('apiauth', ['verify', key2, '-d', keyDir], { env })).code).toBe(0)
    const old = await runCli('apiauth', ['verify', key1, '-d', keyDir], { env })
    expect(old.code).toBe(0)
    expect(old.stdout).toMatch(/deprecated/i)
    const rows = await db.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM api_keys')
    expect(rows.rows[0]!.n).toBe('1')
    expect(existsSync(join(keyDir, 'keystore.enc'))).toBe(false)
    expect((await runCli('apiauth', ['revoke', id, '-d', keyDir], { env })).stdout).toContain(`✗ Revoked ${id}`)
    expect((await runCli('apiauth', ['verify', key2, '-d', keyDir], { env })).code).toBe(1)
  })
})

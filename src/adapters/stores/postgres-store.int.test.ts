import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { secretStoreContract } from '../../core/env/secret-store.contract.js'
import { parseMasterKeyMaterial } from '../../core/crypto/kdf.js'
import { parseEnvaultConfig } from '../../config/envault-config.js'
import { createFakeClock } from '../system/system.js'
import { freshSchema } from '../postgres/test-schema.js'
import { loadKeyring } from '../postgres/keyring.js'
import { createPgSecretStore } from '../postgres/secret-store.js'
import type { Pool } from '../postgres/db.js'
import { createStoreConnections, openStore, type StoreContext } from './store-registry.js'

const random = { bytes: (n: number) => randomBytes(n) }
const MASTER_HEX = 'c'.repeat(64)
const pgUp = await serviceAvailable('postgres')
const config = parseEnvaultConfig('project: p\nenvironments:\n  prod: {store: pg}\nstores:\n  pg: {type: postgres}\n', '/p/.envault.yml')

describe.skipIf(!pgUp)('postgres store (real PostgreSQL)', () => {
  let db: { pool: Pool; schema: string; drop(): Promise<void> }
  const connections = createStoreConnections({ clock: createFakeClock(), random, actor: 't' })
  const ctx = (env: Record<string, string | undefined>): StoreContext => ({ config, material: () => Promise.reject(new Error('unused')), random, env, connections })
  const envVars = () => ({ REKEY_DATABASE_URL: PG_URL, REKEY_DATABASE_SCHEMA: db.schema, REKEY_MASTER_KEY: MASTER_HEX })
  beforeAll(async () => {
    db = await freshSchema(PG_URL)
  })
  afterAll(async () => {
    await connections.close()
    await db.drop()
  })

  // The adapter itself, and the same store as envault opens it (lazy, through the registry).
  secretStoreContract('postgres (adapter)', async () => {
    const keyring = await loadKeyring(db.pool, parseMasterKeyMaterial(MASTER_HEX, 'T'), random)
    return createPgSecretStore(db.pool, keyring, `env-${randomBytes(4).toString('hex')}`)
  })
  secretStoreContract('postgres (store registry)', async () => openStore('pg', ctx(envVars()), { env: `env-${randomBytes(4).toString('hex')}` }))

  it('keeps environments apart inside one database', async () => {
    const a = openStore('pg', ctx(envVars()), { env: 'apart-a' })
    const b = openStore('pg', ctx(envVars()), { env: 'apart-b' })
    await a.apply({ set: { SAME: 'in-a' } })
    await b.apply({ set: { SAME: 'in-b' } })
    expect(await a.get('SAME')).toBe('in-a')
    expect(await b.get('SAME')).toBe('in-b')
  })

  it('without REKEY_DATABASE_URL: a config error naming the store, before anything is read', () => {
    expect(() => openStore('pg', ctx({}), { env: 'x' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^store "pg" is a postgres store, but REKEY_DATABASE_URL is not set/) }))
    expect(() => openStore('pg', ctx({ REKEY_DATABASE_URL: 'mysql://x' }), { env: 'x' })).toThrow(/store "pg": REKEY_DATABASE_URL must be a postgres:\/\/ URL/)
  })

  it('a wrong or missing master key is a clear error naming the store, and writes nothing', async () => {
    const good = openStore('pg', ctx(envVars()), { env: 'mk' })
    await good.apply({ set: { K: 'v1' } })
    const other = createStoreConnections({ clock: createFakeClock(), random, actor: 't' })
    try {
      const wrong = openStore('pg', { ...ctx({ ...envVars(), REKEY_MASTER_KEY: 'd'.repeat(64) }), connections: other }, { env: 'mk' })
      await expect(wrong.apply({ set: { K: 'v2' } })).rejects.toMatchObject({ code: 'DECRYPT_FAILED', message: expect.stringMatching(/^store "pg": the master key .* does not open the database's data key/) })
      const none = openStore('pg', { ...ctx({ REKEY_DATABASE_URL: PG_URL, REKEY_DATABASE_SCHEMA: db.schema }), connections: other }, { env: 'mk' })
      await expect(none.get('K')).rejects.toMatchObject({ code: 'MASTER_KEY_MISSING', message: expect.stringMatching(/^store "pg": no master key/) })
    } finally {
      await other.close()
    }
    expect(await good.get('K')).toBe('v1')
  })

  it('an unmigrated schema is refused with the migrate hint', async () => {
    const bare = await freshSchema(PG_URL, { migrate: false })
    const other = createStoreConnections({ clock: createFakeClock(), random, actor: 't' })
    try {
      const s = openStore('pg', { ...ctx({ ...envVars(), REKEY_DATABASE_SCHEMA: bare.schema }), connections: other }, { env: 'x' })
      await expect(s.list()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^store "pg": the database .* is at migration 0/) })
    } finally {
      await other.close()
      await bare.drop()
    }
  })
})

import { describe, expect, it } from 'vitest'
import { serviceAvailable } from '../helpers/services.js'
import { api, cliToken, pgEnv, spawnServe } from './serve-helpers.js'

/**
 * Three real `rekey serve` processes on one PostgreSQL behave as one service: a rotation or a
 * revocation on one reaches every instance's verification cache through LISTEN/NOTIFY, and the
 * audit chain written by all three stays one valid chain.
 */
describe.skipIf(!(await serviceAvailable('postgres')))('several rekey serve instances', () => {
  it('a key revoked on one instance is refused on every instance within one second', async () => {
    const db = await pgEnv()
    const admin = await cliToken(db.env, 'admin')
    const [a, b, c] = await Promise.all([spawnServe(db.env), spawnServe(db.env), spawnServe(db.env)])
    const created = await api(a.url, 'POST', '/v1/keys', admin, { name: 'fleet', service: 'edge' })
    const { key, entry } = created.json as { key: string; entry: { id: string } }
    // Warm every instance's cache with the valid key.
    for (const s of [a, b, c]) for (let i = 0; i < 3; i++) expect((await api(s.url, 'POST', '/v1/keys/verify', admin, { key })).json.valid).toBe(true)

    // Rotate on B: A and C accept the old version as deprecated at once, and the new one.
    const rotated = await api(b.url, 'POST', `/v1/keys/${entry.id}/rotate`, admin, { grace: '1h' })
    const key2 = rotated.json.key as string
    for (const s of [a, c]) {
      expect((await api(s.url, 'POST', '/v1/keys/verify', admin, { key })).json).toMatchObject({ valid: true, deprecated: true, version: 1 })
      expect((await api(s.url, 'POST', '/v1/keys/verify', admin, { key: key2 })).json).toMatchObject({ valid: true, deprecated: false, version: 2 })
    }

    // Revoke on C; measure how long until A and B refuse both versions.
    const t0 = performance.now()
    expect((await api(c.url, 'POST', `/v1/keys/${entry.id}/revoke`, admin)).status).toBe(200)
    const refusedAfter = async (url: string) => {
      for (;;) {
        const r1 = await api(url, 'POST', '/v1/keys/verify', admin, { key: key2 })
        const r0 = await api(url, 'POST', '/v1/keys/verify', admin, { key })
        if (r1.json.status === 'REVOKED' && r0.json.status === 'REVOKED') return performance.now() - t0
        if (performance.now() - t0 > 5000) return Infinity
      }
    }
    const [ta, tb] = await Promise.all([refusedAfter(a.url), refusedAfter(b.url)])
    expect(ta).toBeLessThan(1000)
    expect(tb).toBeLessThan(1000)

    // A secret written on one instance is served by the others (no stale cache).
    await api(a.url, 'PUT', '/v1/envs/prod/secrets/SHARED', admin, { value: 'one' })
    expect((await api(b.url, 'GET', '/v1/envs/prod/secrets/SHARED', admin)).json.value).toBe('one')
    await api(c.url, 'PUT', '/v1/envs/prod/secrets/SHARED', admin, { value: 'two' })
    const seen = async (url: string) => {
      for (let i = 0; i < 50; i++) {
        if ((await api(url, 'GET', '/v1/envs/prod/secrets/SHARED', admin)).json.value === 'two') return true
        await new Promise((r) => setTimeout(r, 20))
      }
      return false
    }
    expect(await seen(a.url)).toBe(true)
    expect(await seen(b.url)).toBe(true)
  })

  it('writes through all instances at once keep one valid audit chain; a killed instance leaves the others serving', async () => {
    const db = await pgEnv()
    const admin = await cliToken(db.env, 'admin')
    const servers = await Promise.all([spawnServe(db.env), spawnServe(db.env), spawnServe(db.env)])
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => api(servers[i % 3]!.url, 'POST', '/v1/keys', admin, { name: `k${i}`, service: 'svc' })),
    )
    const list = await api(servers[1].url, 'GET', '/v1/keys', admin)
    expect((list.json.keys as unknown[]).length).toBe(30)
    const events = (await api(servers[2].url, 'GET', '/v1/audit?action=api_key.create', admin)).json.events as { seq: number }[]
    expect(events.length).toBe(30)
    const { verifyChain } = await import('../../src/core/audit/hash-chain.js')
    const all = (await db.pool.query(`SELECT event FROM ${db.schema}.audit_events ORDER BY seq`)).rows.map((r: { event: never }) => r.event)
    expect(verifyChain(all)).toMatchObject({ ok: true })

    servers[0].kill()
    await new Promise((r) => setTimeout(r, 100))
    const created = await api(servers[1].url, 'POST', '/v1/keys', admin, { name: 'after', service: 'svc' })
    expect(created.status).toBe(201)
    expect((await api(servers[2].url, 'POST', '/v1/keys/verify', admin, { key: created.json.key })).json.valid).toBe(true)
    expect(await servers[1].stop()).toBe(0)
    expect(await servers[2].stop()).toBe(0)
  })
})

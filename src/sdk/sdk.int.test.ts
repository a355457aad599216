import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { PG_URL, serviceAvailable } from '../../test/helpers/services.js'
import { systemClock } from '../adapters/system/system.js'
import { testServer } from '../server/test-harness.js'
import { createSecretsClient, type ChangeEvent, type StaleEvent } from './secrets-client.js'
import { createKeyVerifier, verifyApiKey, verifyApiKeyFastify, verifyApiKeyHono, type FastifyLikeReply, type FastifyLikeRequest, type VerifyOutcome } from './verify-middleware.js'

type T = Awaited<ReturnType<typeof testServer>>

describe.skipIf(!(await serviceAvailable('postgres')))('rekey/sdk against a real rekey serve', () => {
  let t: T
  let admin: string
  beforeAll(async () => {
    t = await testServer(PG_URL, { clock: systemClock })
    admin = await t.token('admin')
  })
  afterAll(async () => {
    await t?.close()
  })

  it('secrets client: caches for ttl, sees a rotation (change event), serves the last value with its age during an outage', async () => {
    const t2 = await testServer(PG_URL, { clock: systemClock })
    const tok = await t2.token('env:prod:read')
    const w = await t2.token('env:prod:write')
    await t2.call('PUT', '/v1/envs/prod/secrets/STRIPE_API_KEY', { token: w, body: { value: 'sk_live_old' } })
    let now = 1_000_000
    const client = createSecretsClient({ url: t2.server.url, token: tok, env: 'prod', ttl: 60_000, now: () => now, backgroundRefresh: false })
    onTestFinished(() => client.close())
    const changes: ChangeEvent[] = []
    const stale: StaleEvent[] = []
    client.on('change', (e) => changes.push(e))
    client.on('stale', (e) => stale.push(e))
    expect(await client.get('STRIPE_API_KEY')).toBe('sk_live_old')

    // Rotation during use: within the ttl the cached value is served; after it, the new one.
    await t2.call('PUT', '/v1/envs/prod/secrets/STRIPE_API_KEY', { token: w, body: { value: 'sk_live_new' } })
    now += 30_000
    expect(await client.get('STRIPE_API_KEY')).toBe('sk_live_old')
    now += 31_000
    expect(await client.getWithMeta('STRIPE_API_KEY')).toMatchObject({ value: 'sk_live_new', version: 2, stale: false })
    expect(changes).toEqual([{ env: 'prod', name: 'STRIPE_API_KEY', version: 2, previousVersion: 1 }])

    // Outage: the last value is served, marked stale with its age.
    await t2.close()
    now += 120_000
    const r = await client.getWithMeta('STRIPE_API_KEY')
    expect(r).toMatchObject({ value: 'sk_live_new', stale: true })
    expect(r.ageMs).toBe(120_000)
    expect(stale[0]).toMatchObject({ env: 'prod', name: 'STRIPE_API_KEY', ageMs: 120_000 })
    // A value never fetched cannot be invented.
    await expect(client.get('NEVER_FETCHED')).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('secrets client: a missing value and a token without access are errors, not stale values', async () => {
    const none = await t.token('env:other:read')
    const client = createSecretsClient({ url: t.server.url, token: none, env: 'prod', backgroundRefresh: false })
    await expect(client.get('ANY')).rejects.toMatchObject({ status: 403, code: 'FORBIDDEN' })
    const reader = await t.token('env:prod:read')
    const c2 = createSecretsClient({ url: t.server.url, token: reader, env: 'prod', backgroundRefresh: false })
    await expect(c2.get('MISSING')).rejects.toMatchObject({ status: 404 })
  })

  it('verifyApiKey: local cache, previous version accepted in grace (Deprecation header), usage reported back, revocation after the cache ttl', async () => {
    const vtok = await t.token('keys:verify')
    const { key, entry } = (await t.call('POST', '/v1/keys', { token: admin, body: { name: 'app', service: 'app' } })).json as { key: string; entry: { id: string } }
    let now = 5_000_000
    const verifier = createKeyVerifier({ url: t.server.url, token: vtok, cacheTtl: 1000, now: () => now, reportEveryMs: 60_000 })
    onTestFinished(() => verifier.close())
    const guard = verifyApiKey({ url: t.server.url, token: vtok, verifier })
    const app = createServer((req, res) => guard(req, res, () => res.end(JSON.stringify((req as { apiKey?: VerifyOutcome }).apiKey))))
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()))
    onTestFinished(() => void app.close())
    const base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
    const hit = (k?: string) => fetch(base, { headers: k ? { 'x-api-key': k } : {} })

    expect((await hit(key)).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await hit(key)).status).toBe(200)
    expect(verifier.stats()).toMatchObject({ misses: 1, hits: 5 })
    expect((await hit()).status).toBe(401)
    expect((await hit('ak_wrong')).status).toBe(401)

    // Rotation during use: the old key keeps working, flagged deprecated.
    const key2 = ((await t.call('POST', `/v1/keys/${entry.id}/rotate`, { token: admin, body: { grace: '1h' } })).json as { key: string }).key
    now += 1500
    const old = await hit(key)
    expect(old.status).toBe(200)
    expect(old.headers.get('deprecation')).toBe('true')
    expect(((await old.json()) as VerifyOutcome).version).toBe(1)
    const fresh = await hit(key2)
    expect(fresh.status).toBe(200)
    expect(fresh.headers.get('deprecation')).toBeNull()
    for (let i = 0; i < 3; i++) await hit(key)

    // Cached uses reach the server's per-version usage (the idle gate's input).
    await verifier.flush()
    const shown = (await t.call('GET', `/v1/keys/${entry.id}`, { token: admin })).json as { versions: { version: number; use_count: number }[] }
    const v1 = shown.versions.find((v) => v.version === 1)!
    expect(v1.use_count).toBeGreaterThanOrEqual(5 + 3)

    // Revocation: refused once the local entry is older than the cache ttl (1 s by default).
    await t.call('POST', `/v1/keys/${entry.id}/revoke`, { token: admin })
    now += 1001
    expect((await hit(key2)).status).toBe(401)
    expect((await hit(key)).status).toBe(401)
  })

  it('verifyApiKey answers 503 when the server cannot be asked', async () => {
    const guard = verifyApiKey({ url: 'http://127.0.0.1:1', token: 'x', timeoutMs: 500 })
    const app = createServer((req, res) => guard(req, res, () => res.end('ok')))
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()))
    onTestFinished(() => void app.close())
    const res = await fetch(`http://127.0.0.1:${(app.address() as AddressInfo).port}`, { headers: { 'x-api-key': 'ak_x' } })
    expect(res.status).toBe(503)
    await guard.verifier.close()
  })

  it('Hono and Fastify adapters accept a valid key and refuse others', async () => {
    const vtok = await t.token('keys:verify')
    const { key } = (await t.call('POST', '/v1/keys', { token: admin, body: { name: 'h', service: 'h' } })).json as { key: string }
    const mw = verifyApiKeyHono({ url: t.server.url, token: vtok })
    onTestFinished(() => mw.verifier.close())
    const app = new Hono<{ Variables: { apiKey: VerifyOutcome } }>()
    app.use('/api/*', mw)
    app.get('/api/x', (c) => c.json({ id: c.get('apiKey').id }))
    expect((await app.request('/api/x', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200)
    expect((await app.request('/api/x', { headers: { authorization: 'Bearer ak_nope' } })).status).toBe(401)
    expect((await app.request('/api/x')).status).toBe(401)

    const hook = verifyApiKeyFastify({ url: t.server.url, token: vtok, verifier: mw.verifier })
    const reply = () => {
      const r = { status: 200, sent: undefined as unknown, code: (s: number) => ((r.status = s), rep), header: () => rep, send: (b: unknown) => (r.sent = b) }
      const rep: FastifyLikeReply = { code: r.code, header: r.header, send: r.send }
      return { r, rep }
    }
    const ok = reply()
    const req: FastifyLikeRequest = { headers: { 'x-api-key': key } }
    await hook(req, ok.rep)
    expect(ok.r.status).toBe(200)
    expect(req.apiKey?.valid).toBe(true)
    const bad = reply()
    await hook({ headers: { 'x-api-key': 'ak_bad' } }, bad.rep)
    expect(bad.r.status).toBe(401)
    expect(String(bad.r.sent)).toContain('KEY_INVALID')
  })
})

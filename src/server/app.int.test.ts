import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PG_URL, serviceAvailable } from '../../test/helpers/services.js'
import { systemClock } from '../adapters/system/system.js'
import { testServer } from './test-harness.js'

type T = Awaited<ReturnType<typeof testServer>>
const CANARY = 'canary-7Hq2-DO-NOT-LEAK-secret-value'
const ENVAULT_KEY = 'envault-legacy-api-key-0123456789'

describe.skipIf(!(await serviceAvailable('postgres')))('rekey serve routes', () => {
  let t: T
  let admin: string
  beforeAll(async () => {
    t = await testServer(PG_URL, { clock: systemClock, legacyEnv: 'prod', envaultApiKey: ENVAULT_KEY, limits: { authFailures: 1000 } })
    admin = await t.token('admin')
  })
  afterAll(async () => {
    await t?.close()
  })

  // The shared auth suite: every protected route refuses a missing, wrong and out-of-scope token.
  describe('shared auth suite', () => {
    const protectedRoutes: [string, string, unknown?][] = [
      ['POST', '/v1/keys', { name: 'a', service: 'b' }],
      ['GET', '/v1/keys'],
      ['GET', '/v1/keys/0123456789ab'],
      ['POST', '/v1/keys/0123456789ab/rotate', {}],
      ['POST', '/v1/keys/0123456789ab/revoke'],
      ['POST', '/v1/keys/verify', { key: 'ak_x' }],
      ['POST', '/v1/keys/usage', { uses: [] }],
      ['GET', '/v1/envs/prod/secrets'],
      ['GET', '/v1/envs/prod/secrets/A'],
      ['PUT', '/v1/envs/prod/secrets/A', { value: 'x' }],
      ['DELETE', '/v1/envs/prod/secrets/A'],
      ['GET', '/v1/envs/prod/secrets/A/versions'],
      ['GET', '/v1/rotations'],
      ['GET', '/v1/rotations/X'],
      ['POST', '/v1/rotations/X/trigger', {}],
      ['POST', '/v1/rotations/X/rollback'],
      ['GET', '/v1/audit'],
      ['GET', '/v1/audit/export'],
      ['GET', '/secrets'],
      ['GET', '/secrets/A'],
    ]
    it('answers every protected route with 401 (no token, wrong token) and 403 (out of scope)', async () => {
      const unrelated = await t.token('env:other:read')
      for (const [m, p, body] of protectedRoutes) {
        const none = await t.call(m, p, { body })
        expect(none.status, `${m} ${p} without token`).toBe(401)
        expect(none.json.error).toMatchObject({ code: 'UNAUTHORIZED', message: 'missing bearer token' })
        expect(none.headers.get('www-authenticate')).toBe('Bearer')
        const wrong = await t.call(m, p, { body, token: 'rkt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })
        expect(wrong.status, `${m} ${p} wrong token`).toBe(401)
        const empty = await t.call(m, p, { body, headers: { authorization: 'Bearer ' } })
        expect(empty.status).toBe(401)
        const scoped = await t.call(m, p, { body, token: unrelated })
        expect(scoped.status, `${m} ${p} out of scope`).toBe(403)
        expect(scoped.json.error?.code).toBe('FORBIDDEN')
        expect(typeof scoped.json.error?.requestId).toBe('string')
      }
    })
    it('rejects a revoked token on the next request', async () => {
      const { token, info } = await t.tokens.create({ name: 'short-lived', scopes: ['keys:read'], actor: 'test' })
      expect((await t.call('GET', '/v1/keys', { token })).status).toBe(200)
      await t.tokens.revoke(info.id)
      await new Promise((r) => setTimeout(r, 200))
      expect((await t.call('GET', '/v1/keys', { token })).status).toBe(401)
    })
    it('rate-limits repeated failures from one address with 429 and Retry-After', async () => {
      const t2 = await testServer(PG_URL, { clock: systemClock, limits: { authFailures: 3, authWindowMs: 60_000 } })
      try {
        const good = await t2.token('keys:read')
        for (let i = 0; i < 3; i++) expect((await t2.call('GET', '/v1/keys', { token: 'wrong' })).status).toBe(401)
        const limited = await t2.call('GET', '/v1/keys', { token: good })
        expect(limited.status).toBe(429)
        expect(limited.json.error?.code).toBe('RATE_LIMITED')
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
        expect((await t2.call('GET', '/healthz')).status).toBe(200)
      } finally {
        await t2.close()
      }
    })
  })

  describe('keys', () => {
    it('creates, lists, shows, rotates (grace), revokes and verifies keys', async () => {
      const writer = await t.token('keys:write')
      const verifier = await t.token('keys:verify')
      const created = await t.call('POST', '/v1/keys', { token: writer, body: { name: 'gateway', service: 'api-gateway', expires_in_days: 30 } })
      expect(created.status).toBe(201)
      const key = created.json.key as string
      const entry = created.json.entry as { id: string; version: number }
      expect(key).toMatch(/^ak_/)
      expect(entry.version).toBe(1)
      const list = await t.call('GET', '/v1/keys?service=api-gateway', { token: writer })
      expect((list.json.keys as { id: string }[]).map((k) => k.id)).toContain(entry.id)
      expect(list.text).not.toContain(key)
      expect(list.text).not.toMatch(/key_hash|[0-9a-f]{64}/)
      expect((await t.call('GET', `/v1/keys/${entry.id}`, { token: writer })).json.id).toBe(entry.id)

      const v1 = await t.call('POST', '/v1/keys/verify', { token: verifier, body: { key } })
      expect(v1.json).toMatchObject({ valid: true, status: 'VALID', id: entry.id, version: 1, deprecated: false })
      const rotated = await t.call('POST', `/v1/keys/${entry.id}/rotate`, { token: writer, body: { grace: '1h' } })
      expect(rotated.status).toBe(200)
      const key2 = rotated.json.key as string
      const old = await t.call('POST', '/v1/keys/verify', { token: verifier, body: { key } })
      expect(old.json).toMatchObject({ valid: true, version: 1, deprecated: true })
      expect(typeof old.json.grace_until).toBe('string')
      expect((await t.call('POST', '/v1/keys/verify', { token: verifier, body: { key: key2 } })).json).toMatchObject({ valid: true, version: 2, deprecated: false })
      const revoked = await t.call('POST', `/v1/keys/${entry.id}/revoke`, { token: writer })
      expect(revoked.status).toBe(200)
      expect((await t.call('POST', '/v1/keys/verify', { token: verifier, body: { key: key2 } })).json).toMatchObject({ valid: false, status: 'REVOKED' })
      expect((await t.call('POST', `/v1/keys/${entry.id}/revoke`, { token: writer })).json.error?.code).toBe('KEY_REVOKED')
      expect((await t.call('POST', `/v1/keys/${entry.id}/rotate`, { token: writer, body: {} })).status).toBe(409)
    })
    it('ends the grace window at once with grace 0', async () => {
      const created = await t.call('POST', '/v1/keys', { token: admin, body: { name: 'g0', service: 's' } })
      const { key, entry } = created.json as { key: string; entry: { id: string } }
      await t.call('POST', `/v1/keys/${entry.id}/rotate`, { token: admin, body: { grace: '0' } })
      expect((await t.call('POST', '/v1/keys/verify', { token: admin, body: { key } })).json).toMatchObject({ valid: false, status: 'EXPIRED' })
    })
    it('answers invalid input with 400 and unknown keys with 404 or INVALID', async () => {
      expect((await t.call('POST', '/v1/keys/verify', { token: admin, body: { key: 'ak_unknown' } })).json).toMatchObject({ valid: false, status: 'INVALID', deprecated: false })
      expect((await t.call('POST', '/v1/keys/verify', { token: admin, body: {} })).status).toBe(400)
      expect((await t.call('POST', '/v1/keys/verify', { token: admin, raw: '{not json' })).json.error?.code).toBe('PARSE_ERROR')
      expect((await t.call('POST', '/v1/keys', { token: admin, body: { name: '', service: 's' } })).status).toBe(400)
      expect((await t.call('POST', '/v1/keys', { token: admin, body: { name: 'a', service: 's', extra: 1 } })).status).toBe(400)
      expect((await t.call('POST', '/v1/keys', { token: admin, body: { name: 'a', service: 's', expires_in_days: -1 } })).status).toBe(400)
      expect((await t.call('GET', '/v1/keys/0123456789ab', { token: admin })).json.error?.code).toBe('KEY_NOT_FOUND')
      expect((await t.call('GET', '/v1/keys/NOT-AN-ID', { token: admin })).status).toBe(400)
      expect((await t.call('POST', '/v1/keys/0123456789ab/rotate', { token: admin, body: { grace: 'soon' } })).status).toBe(400)
    })
    it('accepts usage reports from SDK middleware and folds them into the version usage', async () => {
      const { entry } = (await t.call('POST', '/v1/keys', { token: admin, body: { name: 'u', service: 's' } })).json as { entry: { id: string } }
      const r = await t.call('POST', '/v1/keys/usage', { token: admin, body: { uses: [{ id: entry.id, version: 1, count: 5, last_used_at: '2026-03-01T00:00:00.000Z' }] } })
      expect(r.status).toBe(202)
      const shown = (await t.call('GET', `/v1/keys/${entry.id}`, { token: admin })).json as { versions: { use_count: number }[] }
      expect(shown.versions[0]!.use_count).toBe(5)
      expect((await t.call('POST', '/v1/keys/usage', { token: admin, body: { uses: [{ id: 'x', version: 1, count: 1, last_used_at: 'now' }] } })).status).toBe(400)
    })
  })

  describe('secrets', () => {
    it('sets, reads, lists by prefix, versions and deletes values', async () => {
      const w = await t.token('env:staging:write')
      expect((await t.call('PUT', '/v1/envs/staging/secrets/STRIPE_KEY', { token: w, body: { value: 'sk_live_one' } })).json).toEqual({ env: 'staging', name: 'STRIPE_KEY', version: 1 })
      expect((await t.call('PUT', '/v1/envs/staging/secrets/STRIPE_KEY', { token: w, body: { value: 'sk_live_two' } })).json.version).toBe(2)
      await t.call('PUT', '/v1/envs/staging/secrets/DB_URL', { token: w, body: { value: 'postgres://u:p@h/db' } })
      expect((await t.call('GET', '/v1/envs/staging/secrets/STRIPE_KEY', { token: w })).json).toEqual({ env: 'staging', name: 'STRIPE_KEY', value: 'sk_live_two', version: 2 })
      expect((await t.call('GET', '/v1/envs/staging/secrets/STRIPE_KEY?version=1', { token: w })).json.value).toBe('sk_live_one')
      expect((await t.call('GET', '/v1/envs/staging/secrets?prefix=STR', { token: w })).json.names).toEqual(['STRIPE_KEY'])
      expect((await t.call('GET', '/v1/envs/staging/secrets', { token: w })).json.names).toEqual(['DB_URL', 'STRIPE_KEY'])
      const versions = (await t.call('GET', '/v1/envs/staging/secrets/STRIPE_KEY/versions', { token: w })).json.versions as { version: number }[]
      expect(versions.map((v) => v.version)).toEqual([1, 2])
      expect((await t.call('DELETE', '/v1/envs/staging/secrets/STRIPE_KEY', { token: w })).status).toBe(204)
      expect((await t.call('GET', '/v1/envs/staging/secrets/STRIPE_KEY', { token: w })).status).toBe(404)
      expect((await t.call('DELETE', '/v1/envs/staging/secrets/STRIPE_KEY', { token: w })).status).toBe(404)
    })
    it('enforces environment scopes: read is not write, one env is not another', async () => {
      const r = await t.token('env:prod:read')
      expect((await t.call('PUT', '/v1/envs/prod/secrets/A', { token: r, body: { value: 'x' } })).status).toBe(403)
      expect((await t.call('GET', '/v1/envs/staging/secrets', { token: r })).status).toBe(403)
      expect((await t.call('GET', '/v1/envs/prod/secrets', { token: r })).status).toBe(200)
      const any = await t.token('env:*:read')
      expect((await t.call('GET', '/v1/envs/staging/secrets', { token: any })).status).toBe(200)
    })
    it('rejects bad names, bad bodies and oversized values', async () => {
      expect((await t.call('PUT', '/v1/envs/prod/secrets/1BAD', { token: admin, body: { value: 'x' } })).status).toBe(400)
      expect((await t.call('PUT', '/v1/envs/prod/secrets/A', { token: admin, body: { value: 5 } })).status).toBe(400)
      expect((await t.call('PUT', '/v1/envs/pr%2Fod/secrets/A', { token: admin, body: { value: 'x' } })).status).toBe(400)
      const big = await t.call('PUT', '/v1/envs/prod/secrets/A', { token: admin, raw: JSON.stringify({ value: 'x'.repeat(70_000) }) })
      expect(big.status).toBe(413)
      expect((await t.call('GET', '/v1/envs/prod/secrets/NOPE', { token: admin })).json.error?.code).toBe('NOT_FOUND')
    })
    it('keeps the envault serve routes for seed 000 clients', async () => {
      await t.call('PUT', '/v1/envs/prod/secrets/API_URL', { token: admin, body: { value: 'https://api.example.com' } })
      expect((await t.call('GET', '/health')).json).toEqual({ status: 'ok' })
      expect((await t.call('GET', '/secrets/API_URL', { token: ENVAULT_KEY })).json).toEqual({ key: 'API_URL', value: 'https://api.example.com' })
      expect((await t.call('GET', '/secrets?prefix=API', { token: ENVAULT_KEY })).json.keys).toEqual(['API_URL'])
      expect((await t.call('GET', '/secrets/API_URL', { token: ENVAULT_KEY + 'x' })).status).toBe(401)
      expect((await t.call('POST', '/secrets/API_URL', { token: ENVAULT_KEY })).status).toBe(405)
      // the envault key opens only the served environment's legacy routes
      expect((await t.call('GET', '/v1/envs/prod/secrets/API_URL', { token: ENVAULT_KEY })).status).toBe(401)
    })
  })

  describe('rotations, audit, operations', () => {
    it('answers rotations with 501 NOT_CONFIGURED when the engine is not wired', async () => {
      const r = await t.call('GET', '/v1/rotations', { token: admin })
      expect(r.status).toBe(501)
      expect(r.json.error?.code).toBe('NOT_CONFIGURED')
    })
    it('queries and exports the audit log', async () => {
      const a = await t.token('audit:read')
      await t.call('PUT', '/v1/envs/audited/secrets/TOKEN', { token: admin, body: { value: 'audited-value-9876' } })
      const q = await t.call('GET', '/v1/audit?env=audited', { token: a })
      const events = q.json.events as { action: string; target: string; actor: string; detail: Record<string, unknown> }[]
      expect(events.map((e) => e.action)).toEqual(['secret.set'])
      expect(events[0]!.actor).toBe('token:t-admin')
      expect(JSON.stringify(events)).not.toContain('audited-value')
      const csv = await t.call('GET', '/v1/audit/export?action=secret.set', { token: a })
      expect(csv.headers.get('content-type')).toContain('text/csv')
      expect(csv.text.split('\r\n')[0]).toBe('seq,ts,actor,action,target,env,status,detail,hash')
      expect(csv.text).toContain('secret.set,TOKEN,audited')
      expect((await t.call('GET', '/v1/audit?since=yesterday', { token: a })).status).toBe(400)
    })
    it('serves health, readiness, metrics and the OpenAPI document', async () => {
      expect((await t.call('GET', '/healthz')).json).toEqual({ ok: true })
      expect((await t.call('GET', '/readyz')).json).toMatchObject({ ok: true, checks: { database: 'ok', notifications: 'ok' } })
      const m = await t.call('GET', '/metrics')
      for (const name of ['rekey_key_verifications_total', 'rekey_rotations_total', 'rekey_key_age_oldest_seconds', 'rekey_key_old_version_use_after_grace_total', 'rekey_keys']) expect(m.text).toContain(name)
      const doc = (await t.call('GET', '/openapi.json')).json as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> }
      expect(doc.openapi).toBe('3.1.0')
      for (const r of t.server.app.routes) expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined()
      expect(doc.paths['/v1/keys/verify']!.post!.requestBody).toBeDefined()
    })
    it('maps unknown routes, wrong methods and oversized URLs to the error shape', async () => {
      const nf = await t.call('GET', '/nope')
      expect(nf.status).toBe(404)
      expect(Object.keys(nf.json)).toEqual(['error'])
      expect(Object.keys(nf.json.error!).sort()).toEqual(['code', 'message', 'requestId'])
      const m = await t.call('PATCH', '/v1/keys')
      expect(m.status).toBe(405)
      expect(m.headers.get('allow')).toContain('GET')
      expect((await t.call('GET', '/v1/keys?x=' + 'a'.repeat(5000), { token: admin })).status).toBe(414)
    })
  })

  it('secret canary: a planted value never reaches logs, error bodies, metrics or the database in clear', async () => {
    await t.call('PUT', '/v1/envs/canary/secrets/CANARY_SECRET', { token: admin, body: { value: CANARY } })
    const created = await t.call('POST', '/v1/keys', { token: admin, body: { name: 'canary', service: 'c' } })
    const key = created.json.key as string
    const seen: string[] = []
    seen.push((await t.call('PUT', '/v1/envs/canary/secrets/CANARY_SECRET', { token: 'wrong', body: { value: CANARY } })).text)
    seen.push((await t.call('PUT', '/v1/envs/canary/secrets/BAD NAME', { token: admin, body: { value: CANARY } })).text)
    seen.push((await t.call('PUT', '/v1/envs/canary/secrets/X', { token: admin, raw: `{"value": "${CANARY}"` })).text)
    seen.push((await t.call('PUT', '/v1/envs/canary/secrets/X', { token: admin, body: { value: CANARY, extra: CANARY } })).text)
    seen.push((await t.call('POST', '/v1/keys/verify', { token: admin, body: { key: key, extra: CANARY } })).text)
    seen.push((await t.call('POST', '/v1/keys/verify', { token: admin, body: { key } })).text)
    seen.push((await t.call('GET', '/metrics')).text)
    seen.push((await t.call('GET', `/v1/audit`, { token: admin })).text)
    expect((await t.call('GET', '/v1/envs/canary/secrets/CANARY_SECRET', { token: admin })).json.value).toBe(CANARY)
    await new Promise((r) => setTimeout(r, 50))
    const all = seen.join('\n') + t.log.lines.join('\n')
    expect(t.log.lines.length).toBeGreaterThan(5)
    expect(all).not.toContain(CANARY)
    expect(all).not.toContain(key)
    const rows = await t.schema.pool.query(`SELECT * FROM ${t.schema.schema}.secret_versions`)
    expect(JSON.stringify(rows.rows)).not.toContain(CANARY.slice(0, 12))
  })

  it('finishes an in-flight request during graceful shutdown', async () => {
    const t2 = await testServer(PG_URL, { clock: systemClock })
    const tok = await t2.token('env:prod:write')
    const body = JSON.stringify({ value: 'finishing' })
    const u = new URL(t2.server.url)
    const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: '/v1/envs/prod/secrets/LATE', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
      req.write(body.slice(0, 5))
      setTimeout(() => req.end(body.slice(5)), 300)
    })
    await new Promise((r) => setTimeout(r, 100))
    const closing = t2.server.close()
    const r = await done
    await closing
    expect(r.status).toBe(200)
    expect(JSON.parse(r.text)).toMatchObject({ name: 'LATE', version: 1 })
    await t2.schema.drop()
  })
})

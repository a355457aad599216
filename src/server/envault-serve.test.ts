import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { AppError } from '../core/errors.js'
import { createEnvaultServer, isLoopback, type EnvaultServer, type SecretReader } from './envault-serve.js'

const CANARY = 'sk_live_CANARY_9f8e7d6c5b4a'
const values = new Map([
  ['STRIPE_API_KEY', CANARY],
  ['STRIPE_WEBHOOK_SECRET', 'whsec_abc'],
  ['DB_HOST', 'db.internal'],
  ['BROKEN', 'x'],
])
const reads: string[] = []
const reader: SecretReader = {
  env: 'prod',
  list: async (prefix) => [...values.keys()].filter((k) => prefix === undefined || k.startsWith(prefix)),
  read: async (name) => {
    if (name === 'BROKEN') throw new AppError('DECRYPT_FAILED', 'cannot decrypt BROKEN in /secret/path/.env.prod: wrong master key')
    const v = values.get(name)
    if (v !== undefined) reads.push(name)
    return v
  },
}

let srv: EnvaultServer
let port = 0
beforeAll(async () => {
  srv = createEnvaultServer({ reader, token: 'my-bearer-token', host: '127.0.0.1', port: 0 })
  port = (await srv.listen()).port
})
afterAll(() => srv.close())

function call(path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}
const auth = { authorization: 'Bearer my-bearer-token' }

describe('envault serve over a real socket', () => {
  it('answers /health without a token and without revealing anything', async () => {
    const r = await call('/health')
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toEqual({ status: 'ok' })
  })
  it.each([
    ['missing', {}],
    ['empty', { authorization: 'Bearer ' }],
    ['bare scheme', { authorization: 'Bearer' }],
    ['wrong', { authorization: 'Bearer not-the-token' }],
    ['prefix of the token', { authorization: 'Bearer my-bearer' }],
    ['other scheme', { authorization: 'Basic bXk6dG9rZW4=' }],
    ['token with extra', { authorization: 'Bearer my-bearer-token extra' }],
  ])('refuses a %s token with 401', async (_n, headers) => {
    for (const path of ['/secrets', '/secrets/STRIPE_API_KEY']) {
      const r = await call(path, { headers })
      expect(r.status).toBe(401)
      expect(r.headers['www-authenticate']).toBe('Bearer')
      expect(r.body).not.toContain(CANARY)
    }
  })
  it('lists names, filtered by prefix, and returns one value as {key, value}', async () => {
    const list = await call('/secrets?prefix=STRIPE_', { headers: auth })
    expect(JSON.parse(list.body)).toEqual({ env: 'prod', keys: ['STRIPE_API_KEY', 'STRIPE_WEBHOOK_SECRET'] })
    expect(list.body).not.toContain(CANARY)
    const one = await call('/secrets/STRIPE_API_KEY', { headers: auth })
    expect(one.status).toBe(200)
    expect(JSON.parse(one.body)).toEqual({ key: 'STRIPE_API_KEY', value: CANARY })
    expect(one.headers['cache-control']).toBe('no-store')
    expect(reads).toContain('STRIPE_API_KEY')
  })
  it('gives 404, 400, 405 and 414 as JSON, and hides internal error detail', async () => {
    expect((await call('/secrets/NOPE', { headers: auth })).status).toBe(404)
    expect((await call('/secrets/bad%20name', { headers: auth })).status).toBe(400)
    expect((await call('/elsewhere', { headers: auth })).status).toBe(404)
    const post = await call('/secrets/STRIPE_API_KEY', { method: 'POST', headers: auth })
    expect(post.status).toBe(405)
    expect(post.headers.allow).toBe('GET, HEAD')
    expect((await call('/secrets/' + 'A'.repeat(3000), { headers: auth })).status).toBe(414)
    const broken = await call('/secrets/BROKEN', { headers: auth })
    expect(broken.status).toBe(500)
    expect(broken.body).not.toMatch(/\/secret\/path|at |\.env/)
    expect(JSON.parse(broken.body).error.code).toBe('DECRYPT_FAILED')
  })
  it('refuses oversized headers', async () => {
    const r = await call('/secrets', { headers: { ...auth, 'x-big': 'y'.repeat(20_000) } }).catch(() => ({ status: 431 }))
    expect(r.status).toBe(431)
  })
  it('refuses to start without a token', () => {
    expect(() => createEnvaultServer({ reader, token: '' })).toThrow(/non-empty API token/)
  })
  it('knows loopback addresses', () => {
    expect(isLoopback('127.0.0.1')).toBe(true)
    expect(isLoopback('localhost')).toBe(true)
    expect(isLoopback('::1')).toBe(true)
    expect(isLoopback('0.0.0.0')).toBe(false)
    expect(isLoopback('10.0.0.5')).toBe(false)
  })
})

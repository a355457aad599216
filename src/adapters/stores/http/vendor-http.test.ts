import { afterEach, describe, expect, it } from 'vitest'
import { startVendorEmulator, type VendorEmulator } from '../../../../test/emulators/vendor-emulator.js'
import { createVendorHttp, requestedWaitMs, scrub, storeToken } from './vendor-http.js'

let emu: VendorEmulator | undefined
afterEach(async () => {
  await emu?.close()
  emu = undefined
})

const waits: number[] = []
const client = (url: string, extra: Partial<Parameters<typeof createVendorHttp>[0]> = {}) =>
  createVendorHttp({ store: 'vlt', vendor: 'vault', baseUrl: url, headers: { 'x-vault-token': 'tok-SECRET-123' }, sleep: async (ms) => void waits.push(ms), random: () => 0.5, errorText: (b) => ((b as { errors?: string[] })?.errors ?? []).join('; ') || undefined, ...extra })

describe('vendor http client', () => {
  it('retries 429 honouring Retry-After, 500 and a dropped connection, then succeeds', async () => {
    emu = await startVendorEmulator(() => ({ status: 200, body: { ok: true } }))
    emu.inject({ status: 429, retryAfter: 2 }, { status: 500 }, { drop: true })
    waits.length = 0
    const c = client(emu.url)
    const r = await c.send<{ ok: boolean }>({ method: 'GET', path: '/v1/x', what: 'read x' })
    expect(r.body.ok).toBe(true)
    expect(c.requests).toBe(4)
    expect(waits[0]).toBeGreaterThanOrEqual(2000)
    await c.close()
  })
  it('gives up after the attempt bound with one line, and never shows the token or a sent value', async () => {
    emu = await startVendorEmulator(() => ({ status: 503, body: { errors: ['sealed; got value hunter2-secret-value'] } }))
    const c = client(emu.url, { maxAttempts: 3 })
    const err = await c.send({ method: 'PUT', path: '/v1/x', body: { data: { K: 'hunter2-secret-value' } }, what: 'write prod' }).then(() => new Error('no error'), (e: Error) => e)
    expect(err.message).toMatch(/store "vlt" \(vault\): write prod failed after 3 attempts: HTTP 503: sealed; got value \[redacted\]/)
    expect(err.message).not.toContain('hunter2')
    expect(err.message).not.toContain('tok-SECRET')
    await c.close()
  })
  it('reports 401/403 as STORE_AUTH_FAILED naming the store, and returns expected statuses', async () => {
    emu = await startVendorEmulator((r) => (r.url.pathname === '/missing' ? { status: 404, body: { errors: [] } } : { status: 403, body: { errors: ['permission denied'] } }))
    const c = client(emu.url)
    expect((await c.send({ method: 'GET', path: '/missing', what: 'read', expect: [404] })).status).toBe(404)
    await expect(c.send({ method: 'GET', path: '/x', what: 'read prod' })).rejects.toMatchObject({ code: 'STORE_AUTH_FAILED', message: expect.stringContaining('store "vlt" (vault) refused the credential (HTTP 403)') })
    await c.close()
  })
  it('reads Retry-After as seconds or a date, and GitHub reset headers', () => {
    expect(requestedWaitMs({ 'retry-after': '3' }, 0)).toBe(3000)
    expect(requestedWaitMs({ 'retry-after': new Date(10_000).toUTCString() }, 5000)).toBe(5000)
    expect(requestedWaitMs({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '20' }, 10_000)).toBe(10_000)
    expect(requestedWaitMs({}, 0)).toBeUndefined()
    expect(scrub('a\nvalue=abcd1234 end', ['abcd1234'])).toBe('a value=[redacted] end')
  })
  it('takes the token from token_env_var, else the vendor defaults, else a clear error', () => {
    expect(storeToken('gh', { GH_TOKEN: 'b' }, undefined, ['GITHUB_TOKEN', 'GH_TOKEN'])).toBe('b')
    expect(storeToken('gh', { MY: 'c', GITHUB_TOKEN: 'a' }, 'MY', ['GITHUB_TOKEN'])).toBe('c')
    expect(() => storeToken('gh', {}, undefined, ['GITHUB_TOKEN', 'GH_TOKEN'])).toThrow(/store "gh": no credential: set GITHUB_TOKEN or GH_TOKEN/)
  })
})

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { constantTimeEqual } from '../../src/core/crypto/compare.js'
import { signRequest } from '../../src/adapters/providers/http-provider.js'

/**
 * A local credential service speaking the `http` provider's webhook contract, for tests: it
 * checks every request's HMAC signature and timestamp, keeps credentials in memory, and can
 * fail on demand. `authenticate(value)` is what a consumer of the credential would see.
 */
export interface HttpProviderEmulator {
  url: string
  secret: string
  seed(value: string): string
  authenticate(value: string): boolean
  down: boolean
  singleCredential: boolean
  /** Requests seen: operation and whether the signature was valid (bodies are not kept). */
  requests: { op: string; signed: boolean }[]
  close(): Promise<void>
}

export async function startHttpProviderEmulator(o: { secret?: string; singleCredential?: boolean; now?: () => number } = {}): Promise<HttpProviderEmulator> {
  const secret = o.secret ?? 'emulator-signing-secret-0123456789'
  const now = o.now ?? (() => Date.now())
  const creds = new Map<string, { value: string; revoked: boolean; lastUsed: string | null; proposal?: string }>()
  let n = 0
  const emu: HttpProviderEmulator = {
    url: '',
    secret,
    down: false,
    singleCredential: o.singleCredential ?? false,
    requests: [],
    seed(value) {
      const id = `c${++n}`
      creds.set(id, { value, revoked: false, lastUsed: null })
      return id
    },
    authenticate(value) {
      for (const c of creds.values()) {
        if (!c.revoked && c.value === value) {
          c.lastUsed = new Date(now()).toISOString()
          return true
        }
      }
      return false
    },
    close: () => new Promise((r) => server.close(() => r())),
  }
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      const op = (req.url ?? '').split('/').pop() ?? ''
      const ts = Number(req.headers['x-rekey-timestamp'])
      const sig = String(req.headers['x-rekey-signature'] ?? '')
      const signed = Number.isFinite(ts) && Math.abs(now() / 1000 - ts) < 300 && constantTimeEqual(sig, signRequest(secret, ts, body))
      emu.requests.push({ op, signed })
      const send = (status: number, v?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(v === undefined ? '' : JSON.stringify(v))
      }
      if (!signed) return send(401, { error: 'bad signature' })
      if (emu.down) return send(503, { error: 'unavailable' })
      const b = JSON.parse(body || '{}') as Record<string, string | null>
      const byValue = (v: string) => [...creds.entries()].find(([, c]) => c.value === v)
      switch (op) {
        case 'identify': {
          const hit = byValue(b.value ?? '')
          return hit ? send(200, { id: hit[0] }) : send(404, { error: 'unknown credential' })
        }
        case 'create': {
          const again = [...creds.entries()].find(([, c]) => c.proposal === b.proposed && !c.revoked)
          if (again) return send(200, { id: again[0], value: again[1].value })
          if (emu.singleCredential) for (const c of creds.values()) c.revoked = true
          const id = `c${++n}`
          creds.set(id, { value: String(b.proposed), revoked: false, lastUsed: null, proposal: String(b.proposed) })
          return send(200, { id, value: b.proposed })
        }
        case 'test': {
          const c = creds.get(String(b.id))
          return send(200, c && !c.revoked && c.value === b.value ? { ok: true } : { ok: false, reason: 'not accepted' })
        }
        case 'revoke': {
          const c = creds.get(String(b.id))
          if (c) c.revoked = true
          return send(200, {})
        }
        case 'reinstate': {
          const c = creds.get(String(b.id))
          if (!c) return send(404, { error: 'unknown' })
          if (emu.singleCredential) for (const x of creds.values()) x.revoked = true
          c.revoked = false
          return send(200, {})
        }
        case 'discard': {
          for (const c of creds.values()) if (c.proposal === b.proposed) c.revoked = true
          return send(200, {})
        }
        case 'usage': {
          const c = creds.get(String(b.id))
          return c ? send(200, { last_used_at: c.lastUsed }) : send(404, { error: 'unknown' })
        }
        default:
          return send(404, { error: 'no such operation' })
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rekey`
  return emu
}

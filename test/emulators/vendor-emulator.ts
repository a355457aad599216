import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'

/**
 * The base of every vendor emulator (Vault, SSM, Doppler, 1Password, GitHub, Vercel, Render): a
 * loopback HTTP server with fault injection and a request log whose values are redacted.
 * Each emulator supplies `handle`, which enforces its vendor's documented contract (auth, error
 * bodies, paging, CAS, rate limits) over in-memory state.
 *
 * Faults are queued and consumed one per request, in order:
 *   emu.inject({ status: 429, retryAfter: 1 })   // one 429 with Retry-After: 1
 *   emu.inject({ status: 500 }, { drop: true }, { latencyMs: 200 })
 * `match` limits a fault to requests whose "METHOD path" contains it.
 */
export type Fault =
  | { status: number; retryAfter?: number; body?: unknown; headers?: Record<string, string>; match?: string }
  | { drop: true; match?: string }
  | { latencyMs: number; match?: string }

export interface LoggedRequest {
  method: string
  path: string
  /** The query string, as sent. */
  query: string
  /** Header names only (values may hold tokens). */
  headerNames: string[]
  /** The body with every string value replaced by "[redacted]" (the structure stays testable). */
  body: unknown
  status: number
}

export interface EmulatorRequest {
  method: string
  url: URL
  headers: IncomingMessage['headers']
  /** Raw body text ('' when none). */
  text: string
  /** The body parsed as JSON, or undefined. */
  json: unknown
}

export interface EmulatorReply {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** A raw body (already serialised), e.g. for text formats. */
  raw?: string
}

export interface VendorEmulator {
  url: string
  /** Requests answered (faults included), values redacted. */
  log: LoggedRequest[]
  /** Also the raw bodies, for tests that must prove a value was (or was not) sent; never printed. */
  rawBodies: string[]
  inject(...faults: Fault[]): void
  /** Clears the log (not the state). */
  reset(): void
  close(): Promise<void>
}

function redact(v: unknown): unknown {
  if (typeof v === 'string') return '[redacted]'
  if (Array.isArray(v)) return v.map(redact)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, redact(x)]))
  return v
}

export async function startVendorEmulator(handle: (r: EmulatorRequest) => Promise<EmulatorReply> | EmulatorReply): Promise<VendorEmulator> {
  const faults: Fault[] = []
  const sockets = new Set<Socket>()
  const emu: VendorEmulator = {
    url: '',
    log: [],
    rawBodies: [],
    inject: (...f) => void faults.push(...f),
    reset() {
      emu.log.length = 0
      emu.rawBodies.length = 0
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        const text = Buffer.concat(chunks).toString('utf8')
        const url = new URL(req.url ?? '/', 'http://emulator')
        let json: unknown
        try {
          json = text === '' ? undefined : JSON.parse(text)
        } catch {
          json = undefined
        }
        const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.search, headerNames: Object.keys(req.headers), body: json === undefined ? (text === '' ? undefined : '[redacted]') : redact(json), status: 0 }
        emu.log.push(entry)
        emu.rawBodies.push(text)
        const at = faults.findIndex((f) => f.match === undefined || `${entry.method} ${entry.path}${entry.query}`.includes(f.match))
        const fault = at >= 0 ? faults.splice(at, 1)[0] : undefined
        if (fault && 'drop' in fault) {
          entry.status = -1
          req.socket.destroy()
          return
        }
        if (fault && 'latencyMs' in fault) await new Promise((r) => setTimeout(r, fault.latencyMs))
        let reply: EmulatorReply
        if (fault && 'status' in fault) {
          reply = { status: fault.status, body: fault.body ?? { error: 'injected fault' }, headers: { ...(fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}), ...(fault.headers ?? {}) } }
        } else {
          try {
            reply = await handle({ method: entry.method, url, headers: req.headers, text, json })
          } catch (e) {
            reply = { status: 500, body: { error: `emulator error: ${(e as Error).message}` } }
          }
        }
        entry.status = reply.status
        const payload = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body))
        res.writeHead(reply.status, { ...(reply.raw === undefined && reply.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(reply.headers ?? {}) })
        res.end(payload)
      })()
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return emu
}

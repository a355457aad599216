import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isIP } from 'node:net'
import { constantTimeEqual } from '../core/crypto/compare.js'
import { isValidKey } from '../core/env/dotenv-parse.js'
import { AppError, isAppError } from '../core/errors.js'

/** What the server needs from the env service: names and audited reads of one environment. */
export interface SecretReader {
  env: string
  list(prefix?: string): Promise<string[]>
  read(name: string): Promise<string | undefined>
}

export interface EnvaultServerOptions {
  reader: SecretReader
  /** The Bearer token every /secrets request must carry (required, non-empty). */
  token: string
  host?: string
  port?: number
  maxUrlLength?: number
  maxHeaderBytes?: number
  /** Called with unexpected errors (for the operator's log; never sent to the client). */
  onError?: (e: unknown) => void
}

export interface EnvaultServer {
  server: Server
  listen(): Promise<{ host: string; port: number }>
  close(): Promise<void>
}

/** Whether a host name or address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  return h.startsWith('::ffff:127.')
}

const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...HEADERS, 'content-length': Buffer.byteLength(text), ...extra })
  res.end(text)
}

function fail(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  send(res, status, { error: { code, message } }, extra)
}

/** Messages safe to show a client: they name no file, path or value. */
const CLIENT_MESSAGES: Partial<Record<string, [number, string]>> = {
  DECRYPT_FAILED: [500, 'the secret cannot be decrypted with the server master key'],
  MASTER_KEY_MISSING: [500, 'the server has no master key for encrypted values'],
  NOT_FOUND: [503, 'the environment file is not available'],
  AUDIT_WRITE_FAILED: [503, 'the read could not be audited, so it was refused'],
  PARSE_ERROR: [500, 'the environment file cannot be read'],
}

/**
 * The `envault serve` HTTP API on plain node:http:
 * - `GET /health` → `{"status":"ok"}` (no token needed, reveals nothing);
 * - `GET /secrets[?prefix=P]` → `{"env","keys":[…]}`;
 * - `GET /secrets/NAME` → `{"key","value"}`.
 * /secrets needs `Authorization: Bearer <token>`, compared in constant time; a missing, empty or
 * wrong token gets 401. Values are read from disk on each request (the reader caches by file
 * stamp) and each read by name is audited. Other methods get 405; long URLs 414; errors are JSON
 * without stack traces or paths.
 */
export function createEnvaultServer(o: EnvaultServerOptions): EnvaultServer {
  if (!o.token) throw new AppError('USAGE', 'serve needs a non-empty API token')
  const maxUrl = o.maxUrlLength ?? 2048
  const expected = `Bearer ${o.token}`

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? '/'
    if (rawUrl.length > maxUrl) return fail(res, 414, 'URI_TOO_LONG', `URL longer than ${maxUrl} characters`)
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'METHOD_NOT_ALLOWED', 'only GET is allowed', { allow: 'GET, HEAD' })
    let url: URL
    try {
      url = new URL(rawUrl, 'http://localhost')
    } catch {
      return fail(res, 400, 'BAD_REQUEST', 'malformed URL')
    }
    const path = url.pathname
    if (path === '/health') return send(res, 200, { status: 'ok' })
    if (path !== '/secrets' && !path.startsWith('/secrets/')) return fail(res, 404, 'NOT_FOUND', 'no such route')
    const auth = req.headers.authorization ?? ''
    // Constant time over the whole header: an empty token or a missing header can never match.
    if (!/^Bearer \S+$/.test(auth) || !constantTimeEqual(auth, expected)) {
      return fail(res, 401, 'UNAUTHORIZED', 'a valid Bearer token is required', { 'www-authenticate': 'Bearer' })
    }
    if (path === '/secrets' || path === '/secrets/') {
      const prefix = url.searchParams.get('prefix') ?? undefined
      return send(res, 200, { env: o.reader.env, keys: await o.reader.list(prefix) })
    }
    let name: string
    try {
      name = decodeURIComponent(path.slice('/secrets/'.length))
    } catch {
      return fail(res, 400, 'BAD_REQUEST', 'malformed secret name')
    }
    if (!isValidKey(name)) return fail(res, 400, 'BAD_REQUEST', 'invalid secret name')
    const value = await o.reader.read(name)
    if (value === undefined) return fail(res, 404, 'NOT_FOUND', 'no such secret')
    return send(res, 200, { key: name, value })
  }

  const server = createServer({ maxHeaderSize: o.maxHeaderBytes ?? 8192, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      const mapped = isAppError(e) ? CLIENT_MESSAGES[e.code] : undefined
      if (!mapped) o.onError?.(e)
      if (res.headersSent) return void res.destroy()
      const [status, message] = mapped ?? [500, 'internal error']
      fail(res, status, isAppError(e) && mapped ? e.code : 'INTERNAL', message)
    })
  })
  server.keepAliveTimeout = 5000
  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => {
          server.off('error', reject)
          const a = server.address() as AddressInfo
          resolve({ host: a.address, port: a.port })
        })
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

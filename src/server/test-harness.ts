import { systemRandom } from '../adapters/system/system.js'
import { parseMasterKeyMaterial } from '../core/crypto/kdf.js'
import type { Clock } from '../core/ports.js'
import { freshSchema } from '../adapters/postgres/test-schema.js'
import { createPgTokenStore } from '../adapters/postgres/token-store.js'
import { startServer, type RunningServer, type ServeOptions } from './main.js'
import type { Logger } from './deps.js'

export const TEST_MASTER_HEX = 'd'.repeat(64)

/** A logger that keeps every line, so tests can assert what was (not) logged. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  const w = (level: string) => (o: object, msg?: string) => void lines.push(JSON.stringify({ level, ...o, msg }))
  return { lines, info: w('info'), warn: w('warn'), error: w('error') }
}

/**
 * A real `rekey serve` on a fresh schema and a free port, in-process, with helpers to mint
 * tokens and call it. For route tests; the multi-instance tests spawn real processes instead.
 */
export async function testServer(url: string, o: { clock: Clock; legacyEnv?: string; envaultApiKey?: string; limits?: ServeOptions['limits'] }) {
  const s = await freshSchema(url)
  const log = memoryLogger()
  const server: RunningServer = await startServer({
    databaseUrl: url,
    schema: s.schema,
    host: '127.0.0.1',
    port: 0,
    master: parseMasterKeyMaterial(TEST_MASTER_HEX, 'TEST'),
    clock: o.clock,
    random: systemRandom,
    log,
    drainMs: 5000,
    ...(o.legacyEnv ? { legacyEnv: o.legacyEnv } : {}),
    ...(o.envaultApiKey ? { envaultApiKey: o.envaultApiKey } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
  })
  const tokens = createPgTokenStore(s.pool, { clock: o.clock, random: systemRandom })
  return {
    server,
    schema: s,
    log,
    token: async (...scopes: string[]) => (await tokens.create({ name: `t-${scopes.join('-').replace(/[^a-z0-9_-]/gi, '_')}`, scopes, actor: 'test' })).token,
    tokens,
    call: async (method: string, path: string, o2: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) => {
      const res = await fetch(server.url + path, {
        method,
        headers: { ...(o2.token ? { authorization: `Bearer ${o2.token}` } : {}), ...(o2.body !== undefined || o2.raw !== undefined ? { 'content-type': 'application/json' } : {}), ...o2.headers },
        ...(o2.raw !== undefined ? { body: o2.raw } : o2.body !== undefined ? { body: JSON.stringify(o2.body) } : {}),
      })
      const text = await res.text()
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> & { error?: { code: string; message: string; requestId: string } } }
    },
    async close() {
      await server.close()
      await s.drop()
    },
  }
}

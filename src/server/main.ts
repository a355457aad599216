import { createServer, type Server } from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { AppError } from '../core/errors.js'
import type { MasterKeyMaterial } from '../core/crypto/kdf.js'
import type { Clock, Random } from '../core/ports.js'
import { createPgPool, redactUrl, schemaOf } from '../adapters/postgres/db.js'
import { currentVersion, migrate, MIGRATIONS } from '../adapters/postgres/migrations.js'
import { openPgBackend, type PgBackend } from './pg-backend.js'
import { createPgLockManager } from '../adapters/postgres/lock-manager.js'
import { startChangeListener, type ChangeListener } from '../adapters/postgres/listener.js'
import { createApp, type App } from './app.js'
import { createCachedAuth } from './auth.js'
import { createCachedKeyRepository } from './key-cache.js'
import { createKeysApi } from './keys-api.js'
import { createStoreSecretsService } from './secrets-service.js'
import type { Limits, Logger, RotationsApi, ServerDeps } from './deps.js'

export interface ServeOptions {
  databaseUrl: string
  schema?: string
  host: string
  port: number
  master: MasterKeyMaterial
  clock: Clock
  random: Random
  /** Run pending migrations first (otherwise refuse to start on an unmigrated database). */
  migrate?: boolean
  /** The environment served by the envault routes (/secrets…), and ENVAULT_API_KEY. */
  legacyEnv?: string
  envaultApiKey?: string
  log: Logger
  rotations?: RotationsApi
  /** How long graceful shutdown waits for in-flight requests. */
  drainMs?: number
  limits?: Partial<Limits>
  /**
   * The rotation scheduler's tick. Every instance tries it each interval, but only the one that
   * takes the cluster-wide advisory lock runs it, so each due rotation, notice and revocation
   * runs once across the fleet; a run left by a killed instance is resumed by the next tick.
   */
  tick?: () => Promise<{ rotated: { state: string }[]; resumed: { state: string }[]; failed: unknown[] }>
  tickIntervalMs?: number
}

export interface RunningServer {
  url: string
  port: number
  app: App
  instance: string
  /** Stops accepting, finishes in-flight requests, flushes buffered usage and audit, closes the pool. */
  close(): Promise<void>
}

/**
 * The composition root of `rekey serve`: the only place that picks implementations. It wires the
 * same use cases the CLI runs (the apiauth keys service) to the PostgreSQL adapters, with the
 * verification cache invalidated by LISTEN/NOTIFY.
 */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const instance = `inst_${randomBytes(4).toString('hex')}`
  let listener: ChangeListener | undefined
  let backend: PgBackend | undefined
  try {
    if (o.migrate) {
      const p = createPgPool({ url: o.databaseUrl, ...(o.schema ? { schema: o.schema } : {}), max: 1 })
      try {
        await migrate(p)
      } finally {
        await p.end().catch(() => undefined)
      }
    }
    const b = (backend = await openPgBackend({ url: o.databaseUrl, schema: o.schema ?? 'rekey', master: o.master, clock: o.clock, random: o.random, actor: 'rekey-serve', poolMax: 16 }))
    const { pool, keyring } = b
    const latest = Math.max(...MIGRATIONS.map((m) => m.version))
    listener = await startChangeListener({ url: o.databaseUrl, schema: schemaOf(pool), onError: (e) => o.log.warn({ err: (e as Error).message }, 'change listener lost its connection; caches bypassed until it is back') })
    const l = listener
    l.on('change', (e) => {
      if (e.kind === 'datakey') void keyring.reload().catch(() => undefined)
    })
    const pgRepo = b.repo
    const repo = createCachedKeyRepository(pgRepo, l)
    const audit = b.audit
    const serviceFor = (actor: string) => b.keysService(actor, repo)
    const secrets = createStoreSecretsService({ storeFor: (env) => b.secretStore(env), audit, listener: l })
    const tokens = b.tokens
    let statsCache: { at: number; v: Awaited<ReturnType<NonNullable<ServerDeps['keyStats']>>> } | undefined
    const deps: ServerDeps = {
      keys: createKeysApi({ serviceFor, repo: pgRepo, clock: o.clock }),
      secrets,
      ...(o.rotations ? { rotations: o.rotations } : {}),
      audit,
      auth: createCachedAuth(tokens, l),
      clock: o.clock,
      log: o.log,
      ...(o.limits ? { limits: o.limits } : {}),
      ...(o.legacyEnv ? { legacy: { env: o.legacyEnv, ...(o.envaultApiKey ? { apiKey: o.envaultApiKey } : {}) } } : {}),
      async ready() {
        const checks: Record<string, string> = {}
        let ok = true
        try {
          const mv = await currentVersion(pool)
          checks.database = mv >= latest ? 'ok' : `migration ${mv} < ${latest}`
          ok &&= mv >= latest
        } catch {
          checks.database = 'unreachable'
          ok = false
        }
        checks.notifications = l.connected ? 'ok' : 'reconnecting'
        ok &&= l.connected
        return { ok, checks }
      },
      async keyStats() {
        const now = o.clock.now().getTime()
        if (statsCache && now - statsCache.at < 15_000) return statsCache.v
        const r = await pool.query<{ active: string; revoked: string; expired: string; oldest: Date | null }>(
          `SELECT count(*) FILTER (WHERE NOT (entry->>'revoked')::boolean AND (entry->>'expires_at' IS NULL OR (entry->>'expires_at')::timestamptz > $1)) AS active,
                  count(*) FILTER (WHERE (entry->>'revoked')::boolean) AS revoked,
                  count(*) FILTER (WHERE NOT (entry->>'revoked')::boolean AND (entry->>'expires_at')::timestamptz <= $1) AS expired,
                  min(COALESCE(entry->>'rotated_at', entry->>'created_at')::timestamptz) FILTER (WHERE NOT (entry->>'revoked')::boolean) AS oldest
             FROM api_keys`,
          [new Date(now)],
        )
        const row = r.rows[0]!
        const v = { active: Number(row.active), revoked: Number(row.revoked), expired: Number(row.expired), oldestActiveAgeSeconds: row.oldest ? Math.max(0, (now - row.oldest.getTime()) / 1000) : 0 }
        statsCache = { at: now, v }
        return v
      },
    }
    const app = createApp(deps)
    let ticker: NodeJS.Timeout | undefined
    let ticking: Promise<unknown> = Promise.resolve()
    if (o.tick) {
      const tick = o.tick
      const locks = createPgLockManager(pool)
      const once = async () => {
        const r = await locks.tryWithLock('scheduler:tick', tick)
        if (!r.ran) return
        for (const x of [...r.value.rotated, ...r.value.resumed]) {
          if (x.state === 'done' || x.state === 'draining' || x.state === 'promoted') app.metrics.rotations.inc({ outcome: 'succeeded' })
          else if (x.state === 'rolled_back') app.metrics.rotations.inc({ outcome: 'rolled_back' })
          else if (x.state === 'failed' || x.state === 'needs_operator') app.metrics.rotations.inc({ outcome: 'failed' })
        }
        if (r.value.failed.length) app.metrics.rotations.inc({ outcome: 'failed' }, r.value.failed.length)
      }
      const loop = () => {
        ticking = once()
          .catch((e: unknown) => o.log.warn({ err: (e as Error).message?.slice(0, 300) }, 'scheduler tick failed'))
          .finally(() => {
            if (ticker !== undefined) ticker = setTimeout(loop, o.tickIntervalMs ?? 60_000)
          })
      }
      ticker = setTimeout(loop, Math.min(o.tickIntervalMs ?? 60_000, 1000))
    }
    const server: Server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => app.handle(req, res))
    server.timeout = 35_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new AppError('CONFIG_INVALID', `cannot listen on ${o.host}:${o.port}${e.code ? ` (${e.code})` : ''}`, { cause: e })),
      )
      server.listen(o.port, o.host, () => resolve())
    })
    const port = (server.address() as AddressInfo).port
    const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`
    o.log.info({ instance, url, schema: schemaOf(pool), database: redactUrl(o.databaseUrl) }, 'rekey serve listening')
    let closing: Promise<void> | undefined
    return {
      url,
      port,
      app,
      instance,
      close: () =>
        (closing ??= (async () => {
          if (ticker) clearTimeout(ticker)
          ticker = undefined
          await ticking
          // Stop accepting; idle keep-alive sockets close now, busy ones after their response.
          const closed = new Promise<void>((r) => server.close(() => r()))
          server.closeIdleConnections()
          const deadline = Date.now() + (o.drainMs ?? 10_000)
          while (app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
          server.closeAllConnections()
          await closed
          await secrets.flush().catch(() => undefined)
          await repo.close().catch(() => undefined)
          await l.close()
          await b.close()
          o.log.info({ instance }, 'rekey serve stopped')
        })()),
    }
  } catch (e) {
    await listener?.close()
    await backend?.close()
    throw e
  }
}

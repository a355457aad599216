import { pino } from 'pino'
import { AppError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { commandMasterKey } from './server-common.js'
import { databaseFromEnv } from '../../server/pg-backend.js'
import { startServer } from '../../server/main.js'
import { parseDuration } from '../../core/time/duration.js'

async function openRotations(ctx: CommandContext) {
  const { openRotationProject } = await import('./rotation-compose.js')
  const { createRotationsApi } = await import('../../server/rotations-api.js')
  // Its rotation state is in the same database; API triggers may rotate several secrets at once.
  const project = await openRotationProject(ctx, { trigger: 'auto', dbPoolMax: 24 })
  return { project, api: createRotationsApi(project) }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * `rekey serve`: the HTTP API over PostgreSQL. Logs are JSON lines on stdout (pino), never with
 * a secret: request lines carry the route template, status and timing only. SIGTERM/SIGINT stop
 * accepting, finish in-flight requests and flush buffered usage and audit records.
 */
export async function serveCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const { url, schema } = databaseFromEnv(opts, ctx.io.env)
  const portText = typeof opts.port === 'string' ? opts.port : '8080'
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new AppError('USAGE', `invalid --port "${portText.slice(0, 20)}"`)
  const host = typeof opts.host === 'string' ? opts.host : '127.0.0.1'
  const master = await commandMasterKey(ctx, opts)
  const level = (typeof opts.logLevel === 'string' ? opts.logLevel : undefined) ?? ctx.io.env.REKEY_LOG_LEVEL ?? 'info'
  if (!['info', 'warn', 'error', 'silent', 'debug'].includes(level)) throw new AppError('USAGE', `invalid --log-level "${level.slice(0, 20)}"`)
  const envaultKey = typeof opts.apiKey === 'string' ? opts.apiKey : ctx.io.env.ENVAULT_API_KEY
  if (envaultKey !== undefined && envaultKey.trim() === '') throw new AppError('USAGE', 'an empty envault API key is refused')
  const legacyEnv = typeof opts.env === 'string' ? opts.env : undefined
  if (!LOOPBACK.has(host)) ctx.out.note(`note: listening on ${host}; every /v1 route requires a scoped token`)
  // Rotations: the same engine as `rekey rotate`, composed from --config (rekey.yml / .envault.yml).
  let rotations: Awaited<ReturnType<typeof openRotations>> | undefined
  if (typeof opts.config === 'string') rotations = await openRotations(ctx)
  const tickText = typeof opts.tickInterval === 'string' ? opts.tickInterval : '60s'
  const tickIntervalMs = parseDuration(tickText, '--tick-interval')
  if (tickIntervalMs < 100) throw new AppError('USAGE', '--tick-interval must be at least 100ms')
  const log = pino({ level, base: { svc: 'rekey-serve' }, redact: { paths: ['req.headers.authorization', '*.token', '*.key', '*.value'], censor: '[redacted]' } }, pino.destination({ fd: 1, sync: false }))
  const server = await startServer({
    databaseUrl: url,
    schema,
    host,
    port: Number(portText),
    master,
    clock: ctx.clock,
    random: ctx.random,
    migrate: opts.migrate === true,
    ...(legacyEnv ? { legacyEnv } : {}),
    ...(envaultKey ? { envaultApiKey: envaultKey } : {}),
    log,
    ...(rotations ? { rotations: rotations.api, tick: () => rotations.project.scheduler.tick(rotations.project.config.policies), tickIntervalMs } : {}),
  })
  ctx.out.note(`rekey serve listening on ${server.url}`)
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'shutting down: finishing in-flight requests')
      void server
        .close()
        .then(() => rotations?.project.close())
        .finally(resolve)
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  log.flush()
  return 0
}

import { createEnvaultServer, isLoopback } from '../../server/envault-serve.js'
import { AppError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { envName, intOption, openFromContext } from './env-common.js'

/**
 * `envault serve`: the token is --api-key or ENVAULT_API_KEY (an empty one is refused). A
 * non-loopback --host without a token is refused; on loopback without a token, a random token is
 * generated for this run and printed once on stderr, so the API never runs unauthenticated.
 */
export async function serve(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const port = intOption(opts.port ?? '8080', '--port')!
  if (port > 65535) throw new AppError('USAGE', `invalid --port ${port}`)
  const host = typeof opts.host === 'string' ? opts.host : '127.0.0.1'
  let token = typeof opts.apiKey === 'string' ? opts.apiKey : ctx.io.env.ENVAULT_API_KEY
  if (token !== undefined && token.trim() === '') {
    throw new AppError('USAGE', typeof opts.apiKey === 'string' ? '--api-key is empty' : 'ENVAULT_API_KEY is set but empty')
  }
  let generated = false
  if (token === undefined) {
    if (!isLoopback(host)) {
      throw new AppError('USAGE', `refusing to serve secrets on ${host} without a token`, { hint: 'pass --api-key or set ENVAULT_API_KEY, or bind to 127.0.0.1' })
    }
    token = ctx.random.bytes(24).toString('base64url')
    generated = true
  }
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const reader = p.service.secretReader(env)
    await reader.list() // fail now, not on the first request, when the file is missing or unreadable
    const srv = createEnvaultServer({ reader, token, host, port, onError: (e) => ctx.out.note(`error: ${safe(e instanceof Error ? e.message : 'internal error')}`) })
    const addr = await srv.listen()
    const file = p.config.environments.find((e) => e.name === env)!.envFile
    const url = `http://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`
    if (ctx.out.json) ctx.out.data({ url, env, file, ...(generated ? { token } : {}) })
    else {
      ctx.out.note(`Serving ${safe(env)} (${safe(file)}) on ${url}  (GET /health, /secrets, /secrets/NAME)`)
      if (generated) ctx.out.note(`No --api-key given: this run's Bearer token is ${token}`)
    }
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
    await srv.close()
    return 0
  } finally {
    await p.close()
  }
}

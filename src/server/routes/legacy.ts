import { z } from 'zod'
import { AppError } from '../../core/errors.js'
import type { RouteEnv } from '../app.js'
import type { Route } from '../router.js'
import { actorOf, checkName } from './secrets.js'

/**
 * The `envault serve` routes (seed 000's clients): GET /health, GET /secrets[?prefix=] → {"env","keys"}, GET
 * /secrets/NAME → {"key","value"}, over the environment given to `rekey serve --env`. They accept
 * a token with env:<env>:read, or ENVAULT_API_KEY as the Bearer token.
 */
export function legacyRoutes({ deps }: RouteEnv): Route[] {
  const env = () => {
    if (!deps.legacy) throw new AppError('NOT_CONFIGURED', 'the envault routes need an environment', { hint: 'start rekey serve with --env E' })
    return deps.legacy.env
  }
  const scope = () => `env:${deps.legacy?.env ?? '-'}:read`
  return [
    { method: 'GET', path: '/health', summary: 'envault serve: liveness.', tag: 'envault', handler: () => ({ body: { status: 'ok' } }) },
    {
      method: 'GET',
      path: '/secrets',
      summary: 'envault serve: list names in the served environment.',
      tag: 'envault',
      scope,
      legacyAuth: true,
      query: z.object({ prefix: z.string().max(255).optional() }),
      async handler({ query, token }) {
        const prefix = query.prefix as string | undefined
        const e = env()
        return { body: { env: e, keys: await deps.secrets.list(e, { actor: actorOf(token), ...(prefix ? { prefix } : {}) }) } }
      },
    },
    {
      method: 'GET',
      path: '/secrets/{name}',
      summary: 'envault serve: one value as {"key","value"}.',
      tag: 'envault',
      scope,
      legacyAuth: true,
      async handler({ params, token }) {
        const name = checkName(params.name!)
        const r = await deps.secrets.get(env(), name, { actor: actorOf(token) })
        if (!r) throw new AppError('NOT_FOUND', `no variable ${name}`)
        return { body: { key: name, value: r.value } }
      },
    },
  ]
}

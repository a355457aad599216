import { z } from 'zod'
import { AppError } from '../../core/errors.js'
import type { RouteEnv } from '../app.js'
import type { RotationsApi } from '../deps.js'
import type { Route } from '../router.js'
import { actorOf } from './secrets.js'

const checkSecret = (s: string) => {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(s)) throw new AppError('USAGE', 'invalid secret name')
  return s
}

export function rotationRoutes({ deps, metrics }: RouteEnv): Route[] {
  const engine = (): RotationsApi => {
    if (!deps.rotations) throw new AppError('NOT_CONFIGURED', 'the rotation engine is not configured on this server', { hint: 'start rekey serve with --config rekey.yml' })
    return deps.rotations
  }
  const count = (r: unknown) => {
    const state = (r as { state?: unknown } | undefined)?.state
    if (state === 'done' || state === 'draining' || state === 'promoted') metrics.rotations.inc({ outcome: 'succeeded' })
    else if (state === 'rolled_back') metrics.rotations.inc({ outcome: 'rolled_back' })
    else if (state === 'failed' || state === 'needs_operator') metrics.rotations.inc({ outcome: 'failed' })
  }
  return [
    {
      method: 'GET',
      path: '/v1/rotations',
      summary: 'Every rotation policy with its state: version, age, next rotation, last result.',
      tag: 'rotations',
      scope: () => 'rotations:read',
      async handler() {
        return { body: { rotations: await engine().list() } }
      },
    },
    {
      method: 'GET',
      path: '/v1/rotations/{name}',
      summary: 'Status and run history of one secret.',
      tag: 'rotations',
      scope: () => 'rotations:read',
      async handler({ params }) {
        return { body: await engine().status(checkSecret(params.name!)) }
      },
    },
    {
      method: 'POST',
      path: '/v1/rotations/{name}/trigger',
      summary: 'Rotate a secret now (one run per secret across every instance).',
      tag: 'rotations',
      scope: () => 'rotations:write',
      body: z.strictObject({ emergency: z.boolean().optional(), force: z.boolean().optional() }),
      async handler({ params, body, token }) {
        const b = body as { emergency?: boolean; force?: boolean }
        const r = await engine().trigger(checkSecret(params.name!), { actor: actorOf(token), ...b })
        count(r)
        return { body: r }
      },
    },
    {
      method: 'POST',
      path: '/v1/rotations/{name}/rollback',
      summary: 'Make the previous credential current again everywhere (during the grace period).',
      tag: 'rotations',
      scope: () => 'rotations:write',
      async handler({ params, token }) {
        const r = await engine().rollback(checkSecret(params.name!), { actor: actorOf(token) })
        metrics.rotations.inc({ outcome: 'rolled_back' })
        return { body: r }
      },
    },
  ]
}

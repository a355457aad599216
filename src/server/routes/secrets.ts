import { z } from 'zod'
import { AppError } from '../../core/errors.js'
import type { RouteEnv } from '../app.js'
import type { Route } from '../router.js'

export const ENV_RE = /^[A-Za-z0-9_.-]{1,64}$/
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/

export const checkEnv = (env: string) => {
  if (!ENV_RE.test(env)) throw new AppError('USAGE', 'invalid environment name')
  return env
}
export const checkName = (name: string) => {
  if (!NAME_RE.test(name)) throw new AppError('USAGE', 'invalid variable name')
  return name
}

export const actorOf = (t: { name: string } | undefined) => (t ? `token:${t.name}` : 'anonymous')

export function secretRoutes({ deps }: RouteEnv): Route[] {
  const read = (p: Record<string, string>) => `env:${p.env}:read`
  const write = (p: Record<string, string>) => `env:${p.env}:write`
  return [
    {
      method: 'GET',
      path: '/v1/envs/{env}/secrets',
      summary: 'List the variable names of an environment, optionally by prefix (no values).',
      tag: 'secrets',
      scope: read,
      query: z.object({ prefix: z.string().max(255).optional() }),
      response: z.object({ env: z.string(), names: z.array(z.string()) }),
      async handler({ params, query, token }) {
        const env = checkEnv(params.env!)
        const prefix = query.prefix as string | undefined
        return { body: { env, names: await deps.secrets.list(env, { actor: actorOf(token), ...(prefix ? { prefix } : {}) }) } }
      },
    },
    {
      method: 'GET',
      path: '/v1/envs/{env}/secrets/{name}',
      summary: 'Read one value (the current version, or ?version=N). Reads are audited by name.',
      tag: 'secrets',
      scope: read,
      query: z.object({ version: z.coerce.number().int().positive().optional() }),
      response: z.object({ env: z.string(), name: z.string(), value: z.string(), version: z.number() }),
      async handler({ params, query, token }) {
        const env = checkEnv(params.env!)
        const name = checkName(params.name!)
        const version = query.version as number | undefined
        const r = await deps.secrets.get(env, name, { actor: actorOf(token), ...(version === undefined ? {} : { version }) })
        if (!r) throw new AppError('NOT_FOUND', `no variable ${name} in ${env}${version ? ` at version ${version}` : ''}`)
        return { body: { env, name, value: r.value, version: r.version } }
      },
    },
    {
      method: 'PUT',
      path: '/v1/envs/{env}/secrets/{name}',
      summary: 'Set a value (adds a version).',
      tag: 'secrets',
      scope: write,
      body: z.strictObject({ value: z.string().max(60_000) }),
      response: z.object({ env: z.string(), name: z.string(), version: z.number() }),
      async handler({ params, body, token }) {
        const env = checkEnv(params.env!)
        const name = checkName(params.name!)
        const meta = await deps.secrets.put(env, name, (body as { value: string }).value, { actor: actorOf(token) })
        return { body: meta }
      },
    },
    {
      method: 'DELETE',
      path: '/v1/envs/{env}/secrets/{name}',
      summary: 'Delete a variable (its history is kept).',
      tag: 'secrets',
      scope: write,
      statuses: [204],
      async handler({ params, token }) {
        const env = checkEnv(params.env!)
        const name = checkName(params.name!)
        if (!(await deps.secrets.delete(env, name, { actor: actorOf(token) }))) throw new AppError('NOT_FOUND', `no variable ${name} in ${env}`)
        return { status: 204 }
      },
    },
    {
      method: 'GET',
      path: '/v1/envs/{env}/secrets/{name}/versions',
      summary: 'The version history of a variable (metadata only).',
      tag: 'secrets',
      scope: read,
      response: z.object({ env: z.string(), name: z.string(), versions: z.array(z.object({ version: z.number(), created_at: z.string(), deleted: z.boolean() })) }),
      async handler({ params }) {
        const env = checkEnv(params.env!)
        const name = checkName(params.name!)
        const versions = await deps.secrets.versions(env, name)
        if (versions.length === 0) throw new AppError('NOT_FOUND', `no variable ${name} in ${env}`)
        return { body: { env, name, versions } }
      },
    },
  ]
}

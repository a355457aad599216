import { z } from 'zod'
import { AppError } from '../../core/errors.js'
import type { RouteEnv } from '../app.js'
import type { Route } from '../router.js'

const keyId = (id: string) => {
  if (!/^[0-9a-f]{12}$/.test(id)) throw new AppError('USAGE', 'a key id is 12 lowercase hex characters')
  return id
}

const keyView = z.object({
  id: z.string(),
  type: z.string(),
  name: z.string(),
  service: z.string(),
  prefix_shown: z.string(),
  version: z.number(),
  status: z.enum(['active', 'expired', 'revoked']),
  created_at: z.string(),
  rotated_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  revoked: z.boolean(),
  revoked_at: z.string().nullable(),
  versions: z.array(z.object({ version: z.number(), created_at: z.string(), grace_until: z.string().nullable(), revoked_at: z.string().nullable(), last_used_at: z.string().nullable(), use_count: z.number() })),
})

const createBody = z.strictObject({
  name: z.string().min(1).max(200).describe('a label for the key'),
  service: z.string().min(1).max(200).describe('the service that will present the key'),
  type: z.enum(['api_key', 'jwt']).default('api_key'),
  expires_in_days: z.number().int().positive().max(36500).optional(),
  rate_limit: z.number().int().positive().optional(),
  prefix: z.string().regex(/^[a-z][a-z0-9_]{0,15}$/).optional(),
})

const verifyBody = z.strictObject({ key: z.string().min(1).max(8192).describe('the API key (or JWT) presented by a caller') })
const verifyResponse = z.object({
  valid: z.boolean(),
  status: z.enum(['VALID', 'REVOKED', 'EXPIRED', 'INVALID']),
  id: z.string().optional(),
  version: z.number().optional(),
  deprecated: z.boolean(),
  grace_until: z.string().optional(),
  reason: z.string().optional(),
  name: z.string().optional(),
  service: z.string().optional(),
})

const usageBody = z.strictObject({
  uses: z
    .array(z.strictObject({ id: z.string().regex(/^[0-9a-f]{12}$/), version: z.number().int().positive(), count: z.number().int().positive().max(1e9), last_used_at: z.iso.datetime() }))
    .max(10_000),
})

export function keyRoutes({ deps, metrics }: RouteEnv): Route[] {
  const actor = (t: { name: string; id: string } | undefined) => (t ? `token:${t.name}` : 'anonymous')
  return [
    {
      method: 'POST',
      path: '/v1/keys',
      summary: 'Create an API key or JWT. The key is returned once and never stored.',
      tag: 'keys',
      scope: () => 'keys:write',
      body: createBody,
      response: z.object({ key: z.string(), entry: keyView }),
      statuses: [201],
      async handler({ body, token }) {
        const b = body as z.infer<typeof createBody>
        const r = await deps.keys.create({
          name: b.name,
          service: b.service,
          type: b.type,
          actor: actor(token),
          ...(b.expires_in_days === undefined ? {} : { expiresInDays: b.expires_in_days }),
          ...(b.rate_limit === undefined ? {} : { rateLimit: b.rate_limit }),
          ...(b.prefix === undefined ? {} : { prefix: b.prefix }),
        })
        return { status: 201, body: r }
      },
    },
    {
      method: 'GET',
      path: '/v1/keys',
      summary: 'List keys (metadata only).',
      tag: 'keys',
      scope: () => 'keys:read',
      query: z.object({ service: z.string().max(200).optional() }),
      response: z.object({ keys: z.array(keyView) }),
      async handler({ query }) {
        const service = query.service as string | undefined
        return { body: { keys: await deps.keys.list(service === undefined ? {} : { service }) } }
      },
    },
    {
      method: 'POST',
      path: '/v1/keys/verify',
      summary: 'Verify a key: valid or not, its id and version, whether it is a deprecated previous version, and why not.',
      tag: 'keys',
      scope: () => 'keys:verify',
      body: verifyBody,
      response: verifyResponse,
      async handler({ body }) {
        const r = await deps.keys.verify((body as { key: string }).key)
        metrics.verifications.inc({ result: r.status.toLowerCase() })
        if (r.deprecated) metrics.deprecatedUse.inc()
        else if (r.status === 'EXPIRED' && r.version !== undefined && r.reason?.includes('rotated out')) metrics.afterGrace.inc()
        return {
          body: {
            valid: r.status === 'VALID',
            status: r.status,
            deprecated: r.deprecated === true,
            ...(r.id === undefined ? {} : { id: r.id }),
            ...(r.version === undefined ? {} : { version: r.version }),
            ...(r.grace_until === undefined ? {} : { grace_until: r.grace_until }),
            ...(r.reason === undefined ? {} : { reason: r.reason }),
            ...(r.name === undefined ? {} : { name: r.name }),
            ...(r.service === undefined ? {} : { service: r.service }),
          },
        }
      },
    },
    {
      method: 'POST',
      path: '/v1/keys/usage',
      summary: 'Report key uses seen by SDK middleware from its local cache (feeds the idle gate of revocation).',
      tag: 'keys',
      scope: () => 'keys:verify',
      body: usageBody,
      statuses: [202],
      async handler({ body }) {
        const uses = (body as z.infer<typeof usageBody>).uses
        await deps.keys.reportUse(uses.map((u) => ({ id: u.id, version: u.version, at: u.last_used_at, count: u.count })))
        return { status: 202, body: { accepted: uses.length } }
      },
    },
    {
      method: 'GET',
      path: '/v1/keys/{id}',
      summary: 'One key (metadata, versions and their usage).',
      tag: 'keys',
      scope: () => 'keys:read',
      response: keyView,
      async handler({ params }) {
        const e = await deps.keys.get(keyId(params.id!))
        if (!e) throw new AppError('KEY_NOT_FOUND', `no key ${params.id}`)
        return { body: e }
      },
    },
    {
      method: 'POST',
      path: '/v1/keys/{id}/rotate',
      summary: 'Rotate a key. The previous version keeps verifying, as deprecated, through the grace window.',
      tag: 'keys',
      scope: () => 'keys:write',
      body: z.strictObject({ grace: z.string().max(20).optional().describe('e.g. 24h, 0 ends it at once'), expires_in_days: z.number().int().positive().max(36500).optional() }),
      response: z.object({ key: z.string(), entry: keyView }),
      async handler({ params, body, token }) {
        const b = body as { grace?: string; expires_in_days?: number }
        const r = await deps.keys.rotate(keyId(params.id!), {
          actor: actor(token),
          ...(b.grace === undefined ? {} : { grace: b.grace }),
          ...(b.expires_in_days === undefined ? {} : { expiresInDays: b.expires_in_days }),
        })
        return { body: r }
      },
    },
    {
      method: 'POST',
      path: '/v1/keys/{id}/revoke',
      summary: 'Revoke a key, every version, irreversibly. Every instance refuses it within a second.',
      tag: 'keys',
      scope: () => 'keys:write',
      response: z.object({ entry: keyView }),
      async handler({ params, token }) {
        return { body: { entry: await deps.keys.revoke(keyId(params.id!), { actor: actor(token) }) } }
      },
    },
  ]
}

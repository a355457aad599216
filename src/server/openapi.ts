import { z } from 'zod'
import type { Route } from './router.js'

const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }) })

function jsonSchema(s: z.ZodType, io: 'input' | 'output'): unknown {
  try {
    return z.toJSONSchema(s, { io, unrepresentable: 'any' })
  } catch {
    return {}
  }
}

/** /openapi.json, generated from the same zod schemas that validate the requests. */
export function buildOpenApi(routes: readonly Route[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1] ?? '', in: 'path', required: true, schema: { type: 'string' } }))
    const query: unknown[] = []
    if (r.query) {
      const js = jsonSchema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] }
      for (const [name, schema] of Object.entries(js.properties ?? {})) query.push({ name, in: 'query', required: js.required?.includes(name) ?? false, schema })
    }
    const responses: Record<string, unknown> = {
      [String(r.statuses?.[0] ?? 200)]: { description: 'OK', ...(r.response ? { content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } } : {}) },
      default: { description: 'error', content: { 'application/json': { schema: jsonSchema(errorSchema, 'output') } } },
    }
    if (r.scope) {
      responses['401'] = { description: 'missing or invalid token' }
      responses['403'] = { description: 'token out of scope' }
      responses['429'] = { description: 'too many failed attempts from this address' }
    }
    ;(paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.scope ? { security: [{ bearer: [] }], 'x-required-scope': r.scope(Object.fromEntries(params.map((p) => [p.name, `{${p.name}}`]))) } : { security: [] }),
      parameters: [...params, ...query],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      responses,
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'rekey serve', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a scoped API token from "rekey tokens create"' } } },
    paths,
  }
}

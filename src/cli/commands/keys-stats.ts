import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { withKeys } from './keys-common.js'

/** `apiauth stats`: counts by status, type and service. */
export async function statsCommand(ctx: CommandContext): Promise<number> {
  const s = await withKeys(ctx, (k) => k.service.stats(), { readOnly: true })
  if (ctx.out.json) {
    ctx.out.data(s)
    return 0
  }
  ctx.out.line(`Keys: ${s.total} (active ${s.active}, expired ${s.expired}, revoked ${s.revoked})`)
  ctx.out.line(`Types: ${s.api_keys} API key(s), ${s.jwts} JWT(s)`)
  ctx.out.line(`Rotations: ${s.rotations}`)
  const services = Object.entries(s.by_service).sort(([a], [b]) => a.localeCompare(b))
  if (services.length > 0) {
    ctx.out.line('By service:')
    for (const [name, n] of services) ctx.out.line(`  ${safe(name)}: ${n}`)
  }
  return 0
}

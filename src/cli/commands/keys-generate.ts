import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { parseExpiryDays, parsePositiveInt, str, withKeys } from './keys-common.js'

function issuedJson(entry: { id: string; type: string; name: string; service: string; version: number; prefix_shown: string; created_at: string; expires_at: string | null }, key: string) {
  return { id: entry.id, type: entry.type, name: entry.name, service: entry.service, version: entry.version, key, prefix_shown: entry.prefix_shown, created_at: entry.created_at, expires_at: entry.expires_at }
}

/** `apiauth generate api-key`: prints `✓ API key <id> created` and `  Key: <key>`. */
export async function generateApiKeyCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const expiryDays = parseExpiryDays(opts.expiryDays)
  const rateLimit = parsePositiveInt(opts.rateLimit, '--rate-limit')
  const prefix = str(opts.prefix)
  const { entry, key } = await withKeys(ctx, (k) =>
    k.service.generateApiKey({
      name: String(opts.name),
      service: String(opts.service),
      ...(expiryDays === undefined ? {} : { expiryDays }),
      ...(rateLimit === undefined ? {} : { rateLimit }),
      ...(prefix === undefined ? {} : { prefix }),
    }),
  )
  if (ctx.out.json) ctx.out.data(issuedJson(entry, key))
  else {
    ctx.out.line(`${ctx.out.green('✓')} API key ${entry.id} created`)
    ctx.out.line(`  Key: ${key}`)
  }
  return 0
}

/** `apiauth generate jwt`: prints `✓ JWT <id> created` and `  Token: <jwt>`. */
export async function generateJwtCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const expiryDays = parseExpiryDays(opts.expiryDays)
  const { parseClaims } = await import('../../core/keys/jwt.js')
  const claims = parseClaims(Array.isArray(opts.claim) ? (opts.claim as string[]) : [])
  const { entry, key } = await withKeys(ctx, (k) =>
    k.service.generateJwt({ name: String(opts.name), service: String(opts.service), claims, ...(expiryDays === undefined ? {} : { expiryDays }) }),
  )
  if (ctx.out.json) ctx.out.data(issuedJson(entry, key))
  else {
    ctx.out.line(`${ctx.out.green('✓')} JWT ${entry.id} created`)
    ctx.out.line(`  Token: ${key}`)
    if (Object.keys(claims).length > 0) ctx.out.line(`  Claims: ${safe(Object.keys(claims).join(', '))}`)
  }
  return 0
}

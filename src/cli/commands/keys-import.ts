import type { CommandContext } from '../context.js'
import { keyArg, parseExpiryDays, withKeys } from './keys-common.js'

/** `apiauth import <key>`: prints `✓ Imported key <id>` (never the key). */
export async function importCommand(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const key = await keyArg(ctx, args[0])
  const expiryDays = parseExpiryDays(opts.expiryDays)
  const { entry } = await withKeys(ctx, (k) =>
    k.service.importKey({ key, name: String(opts.name), service: String(opts.service), ...(expiryDays === undefined ? {} : { expiryDays }) }),
  )
  if (ctx.out.json) ctx.out.data({ id: entry.id, type: entry.type, name: entry.name, service: entry.service, version: entry.version, prefix_shown: entry.prefix_shown, created_at: entry.created_at, expires_at: entry.expires_at })
  else ctx.out.line(`${ctx.out.green('✓')} Imported key ${entry.id}`)
  return 0
}

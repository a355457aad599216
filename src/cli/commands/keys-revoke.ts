import { usageError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { withKeys } from './keys-common.js'

/** `apiauth revoke <id>`: prints `✗ Revoked <id>`. */
export async function revokeCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const entry = await withKeys(ctx, (k) => k.service.revoke(args[0]!))
  if (ctx.out.json) ctx.out.data({ id: entry.id, revoked: true, revoked_at: entry.revoked_at })
  else ctx.out.line(`${ctx.out.red('✗')} Revoked ${entry.id}`)
  return 0
}

/** `apiauth revoke-version <id> <version>`: ends a previous version's grace now. */
export async function revokeVersionCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const v = String(args[1] ?? '').replace(/^v/, '')
  if (!/^[1-9]\d{0,8}$/.test(v)) throw usageError(`invalid version "${args[1] ?? ''}": use a version number such as 1`)
  const entry = await withKeys(ctx, (k) => k.service.revokeVersion(args[0]!, Number(v)))
  const ver = entry.versions.find((x) => x.version === Number(v))
  if (ctx.out.json) ctx.out.data({ id: entry.id, version: Number(v), revoked_at: ver?.revoked_at ?? null })
  else ctx.out.line(`${ctx.out.red('✗')} Revoked version ${v} of ${entry.id}`)
  return 0
}

import type { CommandContext } from '../context.js'
import { withKeys } from './keys-common.js'

/** `apiauth rollback <id>`: the previous version becomes current again; the newest is revoked. */
export async function rollbackCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const entry = await withKeys(ctx, (k) => k.service.rollback(args[0]!))
  if (ctx.out.json) ctx.out.data({ id: entry.id, version: entry.version })
  else ctx.out.line(`${ctx.out.green('✓')} Rolled back ${entry.id} to version ${entry.version}`)
  return 0
}

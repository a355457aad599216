import type { CommandContext } from '../context.js'
import { withKeys } from './keys-common.js'

/** `apiauth recover`: restores keystore.enc from keystore.enc.prev, keeping the damaged file. */
export async function recoverCommand(ctx: CommandContext): Promise<number> {
  const r = await withKeys(ctx, (k) => k.service.recover())
  if (ctx.out.json) ctx.out.data(r)
  else {
    ctx.out.line(`${ctx.out.green('✓')} Restored the keystore from ${r.restoredFrom} (${r.keys} keys)`)
    ctx.out.line(`  The damaged file was kept as ${r.damagedKeptAs}`)
    ctx.out.line('  The last change before the damage may be missing: check the audit log ("rekey audit log").')
  }
  return 0
}

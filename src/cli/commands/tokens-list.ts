import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { withPg } from './server-common.js'

/** `rekey tokens list`: ids, names, scopes and dates; never values or hashes. */
export async function tokensListCommand(ctx: CommandContext): Promise<number> {
  return withPg(ctx, async (b) => {
    const list = await b.tokens.list()
    if (ctx.out.json) {
      ctx.out.data(list)
      return 0
    }
    if (list.length === 0) ctx.out.line('No tokens')
    for (const t of list) {
      const state = t.revoked_at ? `revoked ${t.revoked_at.slice(0, 10)}` : 'active'
      ctx.out.line(`${t.id}  ${safe(t.name)}  ${t.scopes.join(' ')}  ${state}  created ${t.created_at.slice(0, 10)} by ${safe(t.created_by)}`)
    }
    return 0
  })
}

import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { createTokensService } from '../../server/tokens-service.js'
import { withPg } from './server-common.js'

/** `rekey tokens create --name N --scope S…`: the token is printed once. */
export async function tokensCreateCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const scopes = Array.isArray(opts.scope) ? (opts.scope as string[]) : []
  return withPg(ctx, async (b) => {
    const { token, info } = await createTokensService(b).create({ name: String(opts.name), scopes, actor: ctx.actor })
    if (ctx.out.json) ctx.out.data({ token, ...info })
    else {
      ctx.out.line(ctx.out.green(`✓ Token ${info.id} created`) + ` (${safe(info.scopes.join(' '))})`)
      ctx.out.line(`  Token: ${token}`)
      ctx.out.line('  It is shown only now: store it in your secret manager.')
    }
    return 0
  })
}

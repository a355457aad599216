import { AppError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { createTokensService } from '../../server/tokens-service.js'
import { withPg } from './server-common.js'

/** `rekey tokens revoke <id>`. */
export async function tokensRevokeCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const id = args[0] ?? ''
  if (!/^tok_[0-9a-f]{16}$/.test(id)) throw new AppError('USAGE', 'a token id looks like tok_ followed by 16 hex characters')
  return withPg(ctx, async (b) => {
    const t = await createTokensService(b).revoke(id)
    if (ctx.out.json) ctx.out.data(t)
    else ctx.out.line(ctx.out.red(`✗ Revoked token ${t.id}`))
    return 0
  })
}

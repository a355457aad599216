import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { envName, openFromContext } from './env-common.js'

export async function encrypt(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const r = await p.service.encrypt(env)
    const file = p.config.environments.find((e) => e.name === env)!.envFile
    if (ctx.out.json) return ctx.out.data({ env, file, ...r })
    ctx.out.line(`✓ Encrypted ${r.encrypted} values in ${safe(env)} (${safe(file)})${r.unchanged ? `; ${r.unchanged} already encrypted, left as they were` : ''}`)
  } finally {
    await p.close()
  }
}

export async function decrypt(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const r = await p.service.decrypt(env)
    const file = p.config.environments.find((e) => e.name === env)!.envFile
    if (ctx.out.json) return ctx.out.data({ env, file, ...r })
    ctx.out.line(`✓ Decrypted ${r.decrypted} values in ${safe(env)} (${safe(file)})`)
  } finally {
    await p.close()
  }
}

import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { keyArg, withKeys } from './keys-common.js'

/**
 * `apiauth verify <key>`: `✓ Key <id> is VALID` with name, service and version, or
 * `✗ Key <id> is REVOKED|EXPIRED|INVALID` (`✗ Key is INVALID` when the key matches nothing).
 * Exit code 0 only for VALID, so a pipeline step fails on anything else.
 */
export async function verifyCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const key = await keyArg(ctx, args[0])
  const { r, current } = await withKeys(
    ctx,
    async (k) => {
      const r = await k.service.verify(key)
      const current = r.deprecated && r.id ? (await k.service.get(r.id)).version : undefined
      return { r, current }
    },
    { readOnly: true },
  )
  const out = ctx.out
  if (out.json) {
    out.data({ status: r.status, valid: r.status === 'VALID', id: r.id ?? null, type: r.type ?? null, name: r.name ?? null, service: r.service ?? null, version: r.version ?? null, deprecated: r.deprecated ?? false, grace_until: r.grace_until ?? null, reason: r.reason ?? null })
  } else if (r.status === 'VALID') {
    out.line(`${out.green('✓')} Key ${r.id} is VALID`)
    out.line(`  Name: ${safe(r.name ?? '')}`)
    out.line(`  Service: ${safe(r.service ?? '')}`)
    out.line(`  Version: ${r.version}${r.deprecated ? ` (deprecated: version ${current} is current; accepted until ${r.grace_until})` : ''}`)
  } else {
    out.line(`${out.red('✗')} Key ${r.id === undefined ? '' : `${r.id} `}is ${r.status}`)
    if (r.reason) out.line(`  ${safe(r.reason)}`)
  }
  return r.status === 'VALID' ? 0 : 1
}

import { keyHealth } from '../../core/keys/key-entry.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { entryMeta } from './keys-list.js'
import { withKeys } from './keys-common.js'

/**
 * `apiauth show <id>`: the key's fields, one `  field: value` line each (version, created_at,
 * rotated_at, previous_hash, expires_at, revoked…). `previous_hash` is the SHA-256 of the
 * previous version, so an application can accept it during a rotation (seed 001).
 */
export async function showCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const e = await withKeys(ctx, (k) => k.service.get(args[0]!), { readOnly: true })
  const now = ctx.clock.now()
  if (ctx.out.json) {
    ctx.out.data({ ...entryMeta(e, now), previous_hash: e.previous_hash, ...(e.claims ? { claims: e.claims } : {}), versions: e.versions.length })
    return 0
  }
  const o = ctx.out
  o.line(`Key ${e.id}`)
  o.line(`  type: ${e.type}`)
  o.line(`  name: ${safe(e.name)}`)
  o.line(`  service: ${safe(e.service)}`)
  o.line(`  status: ${keyHealth(e, now)}`)
  o.line(`  prefix_shown: ${safe(e.prefix_shown)}`)
  o.line(`  version: ${e.version}`)
  o.line(`  created_at: ${e.created_at}`)
  o.line(`  rotated_at: ${e.rotated_at ?? 'never'}`)
  o.line(`  previous_hash: ${e.previous_hash ?? 'none'}`)
  o.line(`  expires_at: ${e.expires_at ?? 'never'}`)
  o.line(`  revoked: ${e.revoked ? `yes (${e.revoked_at})` : 'no'}`)
  if (e.rate_limit !== null) o.line(`  rate_limit: ${e.rate_limit}`)
  if (e.claims && Object.keys(e.claims).length > 0) o.line(`  claims: ${safe(Object.keys(e.claims).join(', '))}`)
  return 0
}

/** `apiauth history <id>`: one line per version, oldest first. */
export async function historyCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const id = args[0]!
  const h = await withKeys(ctx, (k) => k.service.history(id), { readOnly: true })
  if (ctx.out.json) {
    ctx.out.data({ id, versions: h })
    return 0
  }
  ctx.out.line(`Key ${id}: ${h.length} version(s)`)
  for (const v of h) {
    const state =
      v.state === 'current'
        ? 'current'
        : v.state === 'grace'
          ? `deprecated, accepted until ${v.grace_until}`
          : v.state === 'revoked'
            ? `revoked ${v.revoked_at}`
            : `retired ${v.grace_until ?? ''}`.trimEnd()
    const used = v.last_used_at === null ? 'never used' : `last used ${v.last_used_at} (${v.use_count} use${v.use_count === 1 ? '' : 's'})`
    ctx.out.line(`  v${v.version}  created ${v.created_at}  ${state}  ${used}`)
  }
  return 0
}

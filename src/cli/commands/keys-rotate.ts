import { parseDuration } from '../../core/time/duration.js'
import type { CommandContext } from '../context.js'
import { parseExpiryDays, str, withKeys } from './keys-common.js'

/**
 * `apiauth rotate <id>` prints exactly (seed 001 parses it):
 *   ✓ Rotated <id> (v<N>)
 *     New key: <key>
 *     Previous value has been hashed out. Save the new value.
 */
export async function rotateCommand(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const id = args[0]!
  const expiryDays = parseExpiryDays(opts.expiryDays)
  const grace = str(opts.grace)
  const graceMs = grace === undefined ? undefined : parseDuration(grace, '--grace')
  const { entry, key } = await withKeys(ctx, (k) =>
    k.service.rotate(id, { ...(expiryDays === undefined ? {} : { expiryDays }), ...(graceMs === undefined ? {} : { graceMs }) }),
  )
  if (ctx.out.json) {
    const prev = entry.versions.find((v) => v.key_hash === entry.previous_hash)
    ctx.out.data({ id: entry.id, type: entry.type, version: entry.version, key, rotated_at: entry.rotated_at, expires_at: entry.expires_at, previous_version: prev?.version ?? null, previous_grace_until: prev?.grace_until ?? null })
  } else {
    ctx.out.line(`${ctx.out.green('✓')} Rotated ${entry.id} (v${entry.version})`)
    ctx.out.line(`  New key: ${key}`)
    ctx.out.line('  Previous value has been hashed out. Save the new value.')
  }
  return 0
}

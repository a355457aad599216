import { keyHealth, keyMetadata, type KeyEntry } from '../../core/keys/key-entry.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { day, str, withKeys } from './keys-common.js'

/** Metadata of a key for JSON output: never a hash or a value. */
export function entryMeta(e: KeyEntry, now: Date) {
  return { ...keyMetadata(e, now), rate_limit: e.rate_limit }
}

/** `apiauth list [--service S] [--show-expired]`: one line per key, columns padded, never wrapped. */
export async function listCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const service = str(opts.service)
  const all = opts.showExpired === true
  const entries = await withKeys(ctx, (k) => k.service.list({ ...(service === undefined ? {} : { service }), all }), { readOnly: true })
  const now = ctx.clock.now()
  if (ctx.out.json) {
    ctx.out.data(entries.map((e) => entryMeta(e, now)))
    return 0
  }
  if (entries.length === 0) {
    ctx.out.line(all ? 'No keys.' : 'No active keys.')
    return 0
  }
  const rows = entries.map((e) => [e.id, e.type, safe(e.name), safe(e.service), `v${e.version}`, keyHealth(e, now), `expires ${day(e.expires_at)}`, safe(e.prefix_shown) + '…'])
  const head = ['ID', 'TYPE', 'NAME', 'SERVICE', 'VER', 'STATUS', 'EXPIRY', 'PREFIX']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)))
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join('  ')
  ctx.out.line(fmt(head))
  for (const r of rows) ctx.out.line(fmt(r))
  return 0
}

import { formatDuration, parseDuration } from '../../core/time/duration.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { day, str, withKeys } from './keys-common.js'

const DAY_MS = 86_400_000

/**
 * `apiauth audit`: the seed 001 health report.
 *   ✓ All N keys are healthy
 * or sections
 *   ✗ N EXPIRED key(s):            - <id> (<service>) — expired YYYY-MM-DD
 *   ⚠ N EXPIRING key(s) (within 7 days):   - <id> (<service>) — expires YYYY-MM-DD
 *   ✗ N REVOKED key(s):            - <id> (<service>) — revoked YYYY-MM-DD
 * Exit 0 unless --exit-on-expired / --exit-on-revoked find something (then 1).
 */
export async function auditCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const within = str(opts.within) ?? '7d'
  const withinMs = parseDuration(within, '--within')
  const r = await withKeys(ctx, (k) => k.service.health(withinMs), { readOnly: true })
  const failed = (opts.exitOnExpired === true && r.expired.length > 0) || (opts.exitOnRevoked === true && r.revoked.length > 0)
  const o = ctx.out
  if (o.json) {
    o.data({ total: r.total, healthy: r.healthy, within: within, expired: r.expired, expiring: r.expiring, revoked: r.revoked })
    return failed ? 1 : 0
  }
  if (r.healthy) {
    o.line(`${o.green('✓')} All ${r.total} keys are healthy`)
    return 0
  }
  const windowText = withinMs % DAY_MS === 0 ? `${withinMs / DAY_MS} day${withinMs === DAY_MS ? '' : 's'}` : formatDuration(withinMs)
  const sections: string[][] = []
  if (r.expired.length > 0) sections.push([`${o.red('✗')} ${r.expired.length} EXPIRED key(s):`, ...r.expired.map((i) => `  - ${i.id} (${safe(i.service)}) — expired ${day(i.at)}`)])
  if (r.expiring.length > 0) sections.push([`${o.yellow('⚠')} ${r.expiring.length} EXPIRING key(s) (within ${windowText}):`, ...r.expiring.map((i) => `  - ${i.id} (${safe(i.service)}) — expires ${day(i.at)}`)])
  if (r.revoked.length > 0) sections.push([`${o.red('✗')} ${r.revoked.length} REVOKED key(s):`, ...r.revoked.map((i) => `  - ${i.id} (${safe(i.service)}) — revoked ${day(i.at)}`)])
  sections.forEach((s, i) => {
    if (i > 0) o.line()
    for (const l of s) o.line(l)
  })
  return failed ? 1 : 0
}

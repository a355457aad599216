import { parseStrategy } from '../../core/env/sync-plan.js'
import { displayValue } from '../../core/env/secret-kind.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { openFromContext } from './env-common.js'

export async function sync(ctx: CommandContext, [src, tgt]: string[], opts: Record<string, unknown>): Promise<void> {
  const strategy = typeof opts.strategy === 'string' ? parseStrategy(opts.strategy) : undefined
  const p = await openFromContext(ctx)
  try {
    const dryRun = opts.dryRun === true
    const r = await p.service.sync(src!, tgt!, {
      dryRun,
      ...(strategy ? { strategy } : {}),
      allowDelete: opts.allowDelete === true,
      skip: (opts.skip as string[] | undefined) ?? [],
    })
    const show = opts.showValues === true
    const v = (k: string, s: string) => {
      const d = safe(displayValue(k, s, show))
      return d === '' ? '""' : d
    }
    const plan = r.plan
    if (ctx.out.json) {
      return ctx.out.data({
        source: r.source,
        target: r.target,
        dryRun,
        written: r.written,
        strategy: r.strategy,
        add: plan.add.map((a) => ({ key: a.key, value: v(a.key, a.value) })),
        update: plan.update.map((u) => ({ key: u.key, from: v(u.key, u.from), to: v(u.key, u.to) })),
        remove: plan.remove.map((x) => x.key),
        kept: plan.kept,
        skipped: plan.skipped,
      })
    }
    const o = ctx.out
    o.line(dryRun ? `═══ Dry Run: sync ${safe(r.source)} → ${safe(r.target)} ═══` : `═══ Sync: ${safe(r.source)} → ${safe(r.target)} ═══`)
    o.line()
    o.line(dryRun ? 'Would add:' : 'Added:')
    if (plan.add.length === 0) o.line('  (none)')
    for (const a of plan.add) o.line(`  ${a.key}=${v(a.key, a.value)}`)
    o.line()
    o.line(dryRun ? 'Would update:' : 'Updated:')
    if (plan.update.length === 0) o.line('  (none)')
    for (const u of plan.update) o.line(`  ${u.key}: ${v(u.key, u.from)} → ${v(u.key, u.to)}`)
    if (plan.remove.length) {
      o.line()
      o.line(dryRun ? 'Would remove:' : 'Removed:')
      for (const x of plan.remove) o.line(`  ${x.key}`)
    }
    if (plan.kept.length) {
      o.line()
      o.line('Kept (target_wins):')
      for (const k of plan.kept) o.line(`  ${k}`)
    }
    if (plan.skipped.length) {
      o.line()
      o.line('Skipped:')
      for (const k of plan.skipped) o.line(`  ${k}`)
    }
    o.line()
    const counts = `${plan.add.length} added, ${plan.update.length} updated, ${plan.remove.length} removed`
    if (dryRun) o.line(`Dry run: nothing was written (${counts.replace(/ed\b/g, 'ed')})`)
    else if (r.written) o.line(`✓ Synced ${safe(r.source)} → ${safe(r.target)}: ${counts}`)
    else o.line(`✓ ${safe(r.target)} is already in sync with ${safe(r.source)}`)
  } finally {
    await p.close()
  }
}

import { resolve } from 'node:path'
import { diffEnvs, hasDifferences, type EnvDiff } from '../../core/env/diff.js'
import { displayValue, MASK } from '../../core/env/secret-kind.js'
import { isEncryptedValue } from '../../core/env/value-crypto.js'
import { toMap } from '../../core/env/dotenv-parse.js'
import { AppError } from '../../core/errors.js'
import { readEnvFile } from '../../adapters/file/env-file-store.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { openFromContext } from './env-common.js'

/** The seed 002 layout; secret values masked unless --show-values. */
export function renderDiff(ctx: CommandContext, d: EnvDiff, show: boolean): void {
  const v = (k: string, s: string) => safe(displayValue(k, s, show))
  const o = ctx.out
  o.line(`═══ Diff: ${safe(d.source)} → ${safe(d.target)} ═══`)
  o.line()
  o.line(`Only in ${safe(d.source)}:`)
  if (d.onlyInSource.length === 0) o.line('  (none)')
  for (const x of d.onlyInSource) o.line(`  ${x.key}=${v(x.key, x.value)}`)
  o.line()
  o.line(`Only in ${safe(d.target)}:`)
  if (d.onlyInTarget.length === 0) o.line('  (none)')
  for (const x of d.onlyInTarget) o.line(`  ${x.key}=${v(x.key, x.value)}`)
  o.line()
  o.line('Different values:')
  if (d.different.length === 0) o.line('  (none)')
  for (const x of d.different) {
    const from = v(x.key, x.from)
    const to = v(x.key, x.to)
    o.line(`  ${x.key}: ${from === '' ? '""' : from} → ${to === '' ? '""' : to}${from === to && from !== MASK ? ' (secret part differs)' : ''}`)
  }
  o.line()
  if (hasDifferences(d)) {
    o.line(`Summary: ${d.different.length} different values, ${d.onlyInSource.length} only in ${safe(d.source)}, ${d.onlyInTarget.length} only in ${safe(d.target)}, ${d.same} identical`)
  } else {
    o.line(`Summary: no differences (${d.same} keys identical)`)
  }
}

function diffJson(d: EnvDiff, show: boolean) {
  const v = (k: string, s: string) => displayValue(k, s, show)
  return {
    source: d.source,
    target: d.target,
    identical: !hasDifferences(d),
    masked: !show,
    onlyInSource: d.onlyInSource.map((x) => ({ key: x.key, value: v(x.key, x.value) })),
    onlyInTarget: d.onlyInTarget.map((x) => ({ key: x.key, value: v(x.key, x.value) })),
    different: d.different.map((x) => ({ key: x.key, from: v(x.key, x.from), to: v(x.key, x.to) })),
    same: d.same,
  }
}

function finish(ctx: CommandContext, d: EnvDiff, opts: Record<string, unknown>): number {
  const show = opts.showValues === true
  if (ctx.out.json) ctx.out.data(diffJson(d, show))
  else renderDiff(ctx, d, show)
  return opts.exitCode === true && hasDifferences(d) ? 1 : 0
}

export async function diff(ctx: CommandContext, [src, tgt]: string[], opts: Record<string, unknown>): Promise<number> {
  const p = await openFromContext(ctx)
  try {
    return finish(ctx, await p.service.diff(src!, tgt!), opts)
  } finally {
    await p.close()
  }
}

/** Two files directly. Encrypted values are decrypted when the file is an environment of .envault.yml. */
export async function diffFiles(ctx: CommandContext, [f1, f2]: string[], opts: Record<string, unknown>): Promise<number> {
  const files = await Promise.all([f1!, f2!].map((f) => readEnvFile({ path: resolve(ctx.io.cwd, f), what: f }, { allowMissing: false })))
  for (const f of files) for (const pr of f.doc.problems) ctx.out.note(`warning: ${safe(f.what)}: ${pr.message}`)
  const maps = await Promise.all(
    files.map(async (f) => {
      const m = toMap(f.doc)
      if (![...m.values()].some(isEncryptedValue)) return m
      const p = await openFromContext(ctx).catch(() => undefined)
      const env = p?.config.environments.find((e) => e.path === f.path)
      if (!p || !env) throw new AppError('USAGE', `${f.what} has encrypted values but is not an environment of .envault.yml, so its values cannot be decrypted`)
      return p.service.getAll(env.name)
    }),
  )
  return finish(ctx, diffEnvs(f1!, maps[0]!, f2!, maps[1]!), opts)
}

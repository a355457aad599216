import { createInterface } from 'node:readline'
import { displayValue, MASK } from '../../core/env/secret-kind.js'
import { AppError } from '../../core/errors.js'
import type { CliIO, CommandContext } from '../context.js'
import { safe } from '../output.js'
import { envName, intOption, openFromContext } from './env-common.js'

export async function rotate(ctx: CommandContext, [key]: string[], opts: Record<string, unknown>): Promise<void> {
  const length = intOption(opts.length, '--length')
  const p = await openFromContext(ctx)
  try {
    const r = await p.service.rotate({
      key: key!,
      ...(typeof opts.env === 'string' ? { env: opts.env } : {}),
      dryRun: opts.dryRun === true,
      ...(length === undefined ? {} : { length }),
      perEnv: opts.perEnv === true,
      force: opts.force === true,
    })
    const show = opts.show === true
    const files = r.targets.map((t) => t.file)
    if (ctx.out.json) {
      return ctx.out.data({
        key: r.key,
        type: r.kind,
        label: r.label,
        dryRun: r.dryRun,
        shared: r.shared,
        sharedPassword: r.sharedPassword,
        targets: r.targets.map((t) => ({ env: t.env, file: t.file, ...(show ? { value: t.value } : {}) })),
      })
    }
    const o = ctx.out
    o.line(`Key: ${r.key}`)
    o.line(`Type: ${r.label} (inferred from key name)`)
    const masked = (v: string) => (r.kind === 'url-credentials' ? displayValue(r.key, v) : MASK)
    if (r.shared) {
      o.line(`Generated: ${safe(show ? r.targets[0]!.value : `${masked(r.targets[0]!.value)} (use --show to display)`)}`)
    } else {
      const what = r.kind === 'url-credentials' ? (r.sharedPassword ? 'a new password, the same inside each URL' : 'a new password per environment') : 'a new value per environment'
      o.line(`Generated: ${what}${show ? ':' : r.kind === 'url-credentials' ? ' (password only; use --show to display)' : ' (use --show to display)'}`)
      for (const t of r.targets) o.line(`  ${safe(t.env)}: ${safe(show ? t.value : masked(t.value))}`)
    }
    if (r.dryRun) {
      o.line(`Would update: ${files.map(safe).join(', ')}`)
      o.line('Dry run: nothing was written.')
    } else {
      o.line(`Updated in: ${files.map(safe).join(', ')}`)
    }
  } finally {
    await p.close()
  }
}

async function confirm(io: CliIO, question: string): Promise<boolean> {
  io.stderr.write(question)
  const rl = createInterface({ input: io.stdin, terminal: false })
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve)
      rl.once('close', () => resolve(''))
    })
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}

/**
 * Confirmation policy: on a terminal, ask (unless --yes); not on a terminal (CI, pipes), refuse
 * unless --yes is given, so a script never rotates a whole environment by accident.
 */
export async function rotateAll(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<void> {
  const length = intOption(opts.length, '--length')
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const show = opts.show === true
    const base = { env, ...(length === undefined ? {} : { length }) }
    const preview = await p.service.rotateAll({ ...base, dryRun: true })
    const file = preview.file
    if (preview.rotated.length === 0) {
      if (ctx.out.json) return ctx.out.data({ env, file, dryRun: opts.dryRun === true, rotated: [], skipped: preview.skipped })
      ctx.out.line(`No secret-like variables in ${safe(env)} (${safe(file)}); nothing to rotate.`)
      return
    }
    let result = preview
    if (opts.dryRun !== true) {
      if (opts.yes !== true) {
        if (ctx.io.stdin.isTTY !== true) {
          throw new AppError('USAGE', `rotate-all would replace ${preview.rotated.length} secrets in ${env} (${file}); pass --yes to confirm (stdin is not a terminal)`)
        }
        ctx.out.note(`Secrets to rotate in ${safe(env)} (${safe(file)}): ${preview.rotated.map((x) => x.key).join(', ')}`)
        if (!(await confirm(ctx.io, `Rotate ${preview.rotated.length} secrets in ${env}? [y/N] `))) {
          throw new AppError('INTERRUPTED', 'rotate-all cancelled; nothing was changed')
        }
      }
      result = await p.service.rotateAll({ ...base, onProgress: (d, t, k) => ctx.out.progress(d, t, `generated ${k}`) })
    }
    if (ctx.out.json) {
      return ctx.out.data({ env, file, dryRun: result.dryRun, rotated: result.rotated.map((x) => ({ key: x.key, type: x.kind, ...(show ? { value: x.value } : {}) })), skipped: result.skipped })
    }
    const o = ctx.out
    o.line(`${result.dryRun ? 'Would rotate' : 'Rotated'} ${result.rotated.length} secrets in ${safe(env)} (${safe(file)}):`)
    for (const x of result.rotated) o.line(`  ${x.key} (${x.kind})${show ? `: ${safe(x.value)}` : ''}`)
    if (result.skipped.length) o.line(`Left alone (not secrets): ${result.skipped.join(', ')}`)
    if (result.dryRun) o.line('Dry run: nothing was written.')
  } finally {
    await p.close()
  }
}

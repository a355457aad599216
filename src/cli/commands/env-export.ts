import { appendFile } from 'node:fs/promises'
import { encodeValue } from '../../core/env/dotenv-write.js'
import { AppError } from '../../core/errors.js'
import type { Random } from '../../core/ports.js'
import type { CommandContext } from '../context.js'
import { envName, openFromContext } from './env-common.js'

const FORMATS = ['env', 'dotenv', 'json', 'github-actions'] as const
type Format = (typeof FORMATS)[number]

/** `export KEY='value'` lines, safe to eval in sh/bash/zsh. */
export function formatShell(values: Map<string, string>): string {
  let out = ''
  for (const [k, v] of values) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new AppError('USAGE', `${k} is not a valid shell variable name; use --format dotenv or json`)
    out += `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`
  }
  return out
}

/** KEY=value lines that read back through our parser unchanged. */
export function formatDotenv(values: Map<string, string>): string {
  let out = ''
  for (const [k, v] of values) out += `${k}=${encodeValue(v, 'none')}\n`
  return out
}

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

/**
 * GitHub Actions: `::add-mask::` for each value (each line of a multi-line value too) on stdout,
 * and `KEY<<DELIM … DELIM` blocks for $GITHUB_ENV, with a random delimiter not found in any value.
 */
export function formatGithubActions(values: Map<string, string>, random: Random): { masks: string; env: string } {
  let masks = ''
  let env = ''
  for (const v of values.values()) {
    if (v === '') continue
    masks += `::add-mask::${escapeData(v)}\n`
    if (/[\r\n]/.test(v)) for (const line of v.split(/\r?\n/)) if (line.trim() !== '') masks += `::add-mask::${escapeData(line)}\n`
  }
  for (const [k, v] of values) {
    let delim: string
    do delim = `ghadelimiter_${random.bytes(16).toString('hex')}`
    while (v.includes(delim))
    env += `${k}<<${delim}\n${v}\n${delim}\n`
  }
  return { masks, env }
}

export async function exportCmd(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<void> {
  const format = (typeof opts.format === 'string' ? opts.format : 'dotenv') as Format
  if (!FORMATS.includes(format)) throw new AppError('USAGE', `invalid --format "${format}": use ${FORMATS.join(', ')}`)
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    if (format === 'github-actions' && !ctx.io.env.GITHUB_ENV) {
      throw new AppError('USAGE', 'GITHUB_ENV is not set: --format github-actions runs inside a GitHub Actions step', { hint: 'use --format dotenv or env elsewhere' })
    }
    const values = await p.service.exportValues(env, format)
    const w = (s: string) => void ctx.io.stdout.write(s)
    switch (format) {
      case 'json':
        return ctx.out.data(Object.fromEntries(values))
      case 'env':
        return w(formatShell(values))
      case 'dotenv':
        return w(formatDotenv(values))
      case 'github-actions': {
        const { masks, env: block } = formatGithubActions(values, ctx.random)
        w(masks)
        await appendFile(ctx.io.env.GITHUB_ENV!, block, { mode: 0o600 })
        ctx.out.note(`exported ${values.size} variables from ${env} to $GITHUB_ENV (masked)`)
      }
    }
  } finally {
    await p.close()
  }
}

import { AppError, usageError } from '../../core/errors.js'
import type { KeyEntry } from '../../core/keys/key-entry.js'
import type { Random } from '../../core/ports.js'
import type { CommandContext } from '../context.js'
import { isoSeconds, str, withKeys } from './keys-common.js'

export type ExportFormat = 'env' | 'dotenv' | 'json' | 'github-actions'
const FORMATS: readonly ExportFormat[] = ['env', 'dotenv', 'json', 'github-actions']

/** `api-gateway` → `APIGATEWAY` (seed 001); a name that would start with a digit gets a `_`. */
export function varBase(service: string, id: string): string {
  const base = service.toUpperCase().replace(/[^A-Z0-9]/g, '')
  if (base === '') return `KEY_${id.toUpperCase()}`
  return /^[0-9]/.test(base) ? `_${base}` : base
}

/** The variables of each key: `<BASE>_ID`, `_SERVICE`, `_CREATED`, `_EXPIRES` (when set). A second key of the same service gets `<BASE>_2_…`. */
export function exportVars(entries: readonly KeyEntry[]): [string, string][] {
  const seen = new Map<string, number>()
  const out: [string, string][] = []
  for (const e of entries) {
    const base = varBase(e.service, e.id)
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    const name = n === 1 ? base : `${base}_${n}`
    out.push([`${name}_ID`, e.id], [`${name}_SERVICE`, e.service], [`${name}_CREATED`, isoSeconds(e.created_at)])
    if (e.expires_at !== null) out.push([`${name}_EXPIRES`, isoSeconds(e.expires_at)])
  }
  return out
}

/**
 * A value for `eval` in bash/zsh: `"…"` with `\ " $ \`` escaped, or ANSI-C `$'…'` when it holds
 * control characters (so the output never carries a raw control character).
 */
export function shellQuote(v: string): string {
  if (!/[\u0000-\u001f\u007f]/.test(v)) return `"${v.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`
  const body = [...v]
    .map((c) => {
      if (c === '\\' || c === "'") return `\\${c}`
      const code = c.charCodeAt(0)
      if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`
      return c
    })
    .join('')
  return `$'${body}'`
}

/**
 * A value for a .env file as dotenv parses it (no escape processing except `\n` in double
 * quotes): the seed's `"…"` when that is exact, else `'…'`, else backticks; a value no quoting
 * can carry exactly is refused, naming the variable.
 */
export function dotenvQuote(name: string, v: string): string {
  if (!/["\\\r\n]/.test(v)) return `"${v}"`
  // dotenv's pattern reads `\'` (or `\``) as an escaped quote, so a trailing backslash would
  // swallow the closing quote: refuse those quotings for such a value.
  const tail = v.endsWith('\\') || v.includes('\r')
  if (!tail && !v.includes("'")) return `'${v}'`
  if (!tail && !v.includes('`')) return `\`${v}\``
  throw new AppError('PARSE_ERROR', `${name} cannot be written to a .env file exactly (it holds every kind of quote or a carriage return)`)
}

const shSingle = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * A line appending `NAME=value` to `$GITHUB_ENV`. Plain values keep the seed's form
 * `echo "NAME=value" >> $GITHUB_ENV`; values with shell-special characters are single-quoted;
 * multi-line values use the `NAME<<DELIM` form with a random delimiter not found in the value.
 */
export function githubEnvLine(name: string, v: string, random: Random): string {
  if (v.includes('\r')) throw new AppError('PARSE_ERROR', `${name} holds a carriage return, which $GITHUB_ENV cannot carry exactly`)
  if (!v.includes('\n')) {
    if (/^[A-Za-z0-9 _.,:+@%/=-]*$/.test(v)) return `echo "${name}=${v}" >> $GITHUB_ENV`
    return `echo ${shSingle(`${name}=${v}`)} >> "$GITHUB_ENV"`
  }
  let delim: string
  do delim = `ghadelimiter_${random.bytes(12).toString('hex')}`
  while (v.includes(delim))
  return `printf '%s\\n' ${shSingle(`${name}<<${delim}`)} ${shSingle(v)} ${shSingle(delim)} >> "$GITHUB_ENV"`
}

/** `apiauth export --format env|dotenv|json|github-actions [--service S]`: metadata only. */
export async function exportCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const format = (str(opts.format) ?? 'env') as ExportFormat
  if (!FORMATS.includes(format)) throw usageError(`invalid --format "${String(opts.format)}": use env, dotenv, json or github-actions`)
  const service = str(opts.service)
  const entries = await withKeys(ctx, (k) => k.service.exportable(service === undefined ? {} : { service }), { readOnly: true })
  if (format === 'json' || ctx.out.json) {
    ctx.out.data(
      entries.map((e) => ({ id: e.id, type: e.type, name: e.name, service: e.service, version: e.version, created_at: isoSeconds(e.created_at), rotated_at: e.rotated_at === null ? null : isoSeconds(e.rotated_at), expires_at: e.expires_at === null ? null : isoSeconds(e.expires_at) })),
    )
    return 0
  }
  const vars = exportVars(entries)
  for (const [name, value] of vars) {
    if (format === 'env') ctx.out.line(`export ${name}=${shellQuote(value)}`)
    else if (format === 'dotenv') ctx.out.line(`${name}=${dotenvQuote(name, value)}`)
    else ctx.out.line(githubEnvLine(name, value, ctx.random))
  }
  return 0
}

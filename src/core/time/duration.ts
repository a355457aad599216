import { AppError } from '../errors.js'

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/**
 * Parses a duration such as `0`, `90s`, `15m`, `24h`, `7d`, `2w` or `1h30m` into milliseconds.
 * `what` names the flag or field in the error.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const s = text.trim()
  if (s === '0') return 0
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0)
    matched = re.lastIndex
  }
  if (s.length === 0 || matched !== s.length || !Number.isFinite(total)) {
    throw new AppError('USAGE', `invalid ${what} "${text}": use a number with a unit, such as 15m, 24h or 7d`)
  }
  return Math.round(total)
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0'
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]]
  let rest = Math.abs(ms)
  let out = ''
  for (const [u, n] of units) {
    const q = Math.floor(rest / n)
    if (q > 0) {
      out += `${q}${u}`
      rest -= q * n
    }
  }
  if (out === '') out = `${rest}ms`
  return (ms < 0 ? '-' : '') + out
}

/**
 * Parses `--since`: a duration back from `now` (`24h`, `7d`) or an ISO date/time.
 */
export function parseSince(text: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const d = new Date(text)
    if (Number.isNaN(d.getTime())) throw new AppError('USAGE', `invalid --since "${text}": not a valid ISO date`)
    return d
  }
  return new Date(now.getTime() - parseDuration(text, '--since'))
}

import { Cron } from 'croner'
import { AppError } from '../errors.js'
import { sha256Hex } from '../crypto/hash.js'
import { parseDuration } from '../time/duration.js'

/**
 * When a secret is due. Two forms: a fixed interval since the last rotation (`every 90d`), or a
 * cron expression evaluated in UTC (`0 9 1 *\/3 *`). An optional window (`Mon-Thu 09:00-16:00
 * UTC`) moves a due time to the next moment inside the window, plus a jitter so that many
 * secrets due at once do not all rotate in the same second. Everything here is pure: the time
 * is passed in, and the jitter comes from a hash of the secret's name, so a plan computed twice
 * gives the same answer (tick stays idempotent).
 */
export type Schedule = { kind: 'every'; text: string; intervalMs: number } | { kind: 'cron'; text: string; expr: string }

export function parseSchedule(text: string): Schedule {
  const s = text.trim()
  const every = /^every\s+(.+)$/i.exec(s)
  if (every) {
    let intervalMs: number
    try {
      intervalMs = parseDuration(every[1]!, 'schedule')
    } catch {
      throw new AppError('USAGE', `invalid schedule "${text}": use a number with a unit, such as "every 90d" or "every 12h"`)
    }
    if (intervalMs < 60_000) throw new AppError('USAGE', `invalid schedule "${text}": the interval must be at least 1m`)
    return { kind: 'every', text: s, intervalMs }
  }
  const fields = s.split(/\s+/)
  if (fields.length < 5 || fields.length > 6) {
    throw new AppError('USAGE', `invalid schedule "${text}": use "every 90d" or a cron expression such as "0 9 1 */3 *"`)
  }
  try {
    new Cron(s, { timezone: 'UTC', paused: true })
  } catch (e) {
    throw new AppError('USAGE', `invalid schedule "${text}": ${(e as Error).message}`)
  }
  return { kind: 'cron', text: s, expr: s }
}

/** The first scheduled time strictly after `after`. */
export function nextScheduled(s: Schedule, after: Date): Date {
  if (s.kind === 'every') return new Date(after.getTime() + s.intervalMs)
  const next = new Cron(s.expr, { timezone: 'UTC', paused: true }).nextRun(after)
  if (!next) throw new AppError('CONFIG_INVALID', `schedule "${s.text}" has no future run`)
  return next
}

/** The nominal period of a schedule (for a cron expression: the gap between two runs). */
export function schedulePeriodMs(s: Schedule, around: Date): number {
  if (s.kind === 'every') return s.intervalMs
  const a = nextScheduled(s, around)
  const b = nextScheduled(s, a)
  return b.getTime() - a.getTime()
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const

export interface Window {
  text: string
  /** Allowed weekdays of the window's start, 0 = Sunday. */
  days: ReadonlySet<number>
  startMin: number // minutes after midnight, in the window's offset
  lengthMin: number // may cross midnight
  offsetMin: number // minutes east of UTC
}

function parseDayList(text: string, whole: string): Set<number> {
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map((d) => DAYS.indexOf(d.trim().slice(0, 3).toLowerCase() as (typeof DAYS)[number]))
    if (a === undefined || a < 0 || (b !== undefined && b < 0)) throw new AppError('USAGE', `invalid window "${whole}": unknown day in "${part}"`)
    if (b === undefined) out.add(a)
    else for (let d = a; ; d = (d + 1) % 7) {
      out.add(d)
      if (d === b) break
    }
  }
  return out
}

/** Parses `Mon-Thu 09:00-16:00 UTC`, `Mon,Wed 22:00-02:00 +02:00` or `09:00-17:00 UTC`. */
export function parseWindow(text: string): Window {
  const m = /^(?:([A-Za-z,-]+)\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(?:\s+(UTC|Z|[+-]\d{2}:?\d{2}))?$/i.exec(text.trim())
  if (!m) throw new AppError('USAGE', `invalid window "${text}": use a form such as "Mon-Thu 09:00-16:00 UTC"`)
  const days = m[1] ? parseDayList(m[1], text) : new Set([0, 1, 2, 3, 4, 5, 6])
  const sh = Number(m[2]), sm = Number(m[3]), eh = Number(m[4]), em = Number(m[5])
  if (sh > 23 || eh > 24 || sm > 59 || em > 59) throw new AppError('USAGE', `invalid window "${text}": hours are 00-23, minutes 00-59`)
  const tz = (m[6] ?? 'UTC').toUpperCase()
  let offsetMin = 0
  if (tz !== 'UTC' && tz !== 'Z') {
    const t = /^([+-])(\d{2}):?(\d{2})$/.exec(tz)!
    offsetMin = (t[1] === '-' ? -1 : 1) * (Number(t[2]) * 60 + Number(t[3]))
  }
  const startMin = sh * 60 + sm
  let lengthMin = eh * 60 + em - startMin
  if (lengthMin <= 0) lengthMin += 24 * 60
  return { text: text.trim(), days, startMin, lengthMin, offsetMin }
}

const MIN = 60_000
const DAY = 86_400_000

/** The window interval containing `t`, or the next one after it. */
export function windowAt(w: Window, t: Date): { start: Date; end: Date } {
  const local = t.getTime() + w.offsetMin * MIN
  const dayStart = Math.floor(local / DAY) * DAY
  // Start one day back: a window opened yesterday may still be open (crossing midnight).
  for (let i = -1; i < 9; i++) {
    const d = dayStart + i * DAY
    const weekday = new Date(d).getUTCDay()
    if (!w.days.has(weekday)) continue
    const start = d + w.startMin * MIN
    const end = start + w.lengthMin * MIN
    if (end > local) return { start: new Date(start - w.offsetMin * MIN), end: new Date(end - w.offsetMin * MIN) }
  }
  throw new AppError('CONFIG_INVALID', `window "${w.text}" never opens`)
}

export function insideWindow(w: Window, t: Date): boolean {
  const { start } = windowAt(w, t)
  return start.getTime() <= t.getTime()
}

/** A stable fraction in [0, 1) from a string: the jitter is the same every time it is computed. */
export function stableFraction(seed: string): number {
  return parseInt(sha256Hex(seed).slice(0, 12), 16) / 2 ** 48
}

/**
 * Moves a nominal due time into the window (if any) and adds a jitter of up to `jitterMs`,
 * never past the window's end. `seed` (the secret name) makes the jitter deterministic.
 */
export function placeInWindow(due: Date, o: { window?: Window; jitterMs: number; seed: string }): Date {
  const frac = stableFraction(`${o.seed}|${due.toISOString()}`)
  if (!o.window) return new Date(due.getTime() + Math.floor(frac * o.jitterMs))
  const { start, end } = windowAt(o.window, due)
  const from = Math.max(start.getTime(), due.getTime())
  // Leave at least a quarter of the window for the rotation itself.
  const room = Math.max(0, Math.min(o.jitterMs, (end.getTime() - from) * 0.75))
  return new Date(from + Math.floor(frac * room))
}

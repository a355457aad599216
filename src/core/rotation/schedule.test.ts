import { describe, expect, it } from 'vitest'
import { insideWindow, nextScheduled, parseSchedule, parseWindow, placeInWindow, schedulePeriodMs, windowAt } from './schedule.js'

describe('schedules', () => {
  it('parses "every 90d" and cron, rejecting nonsense with the text in the message', () => {
    expect(parseSchedule('every 90d')).toMatchObject({ kind: 'every', intervalMs: 90 * 86_400_000 })
    const cron = parseSchedule('0 9 1 */3 *')
    expect(nextScheduled(cron, new Date('2026-01-05T00:00:00Z')).toISOString()).toBe('2026-04-01T09:00:00.000Z')
    expect(schedulePeriodMs(parseSchedule('0 3 * * 0'), new Date('2026-01-01T00:00:00Z'))).toBe(7 * 86_400_000)
    expect(() => parseSchedule('every 9x')).toThrow(/every 9x/)
    expect(() => parseSchedule('61 * * * *')).toThrow(/invalid schedule/)
    expect(() => parseSchedule('sometimes')).toThrow(/every 90d/)
  })
  it('windows: days, hours, offsets, crossing midnight', () => {
    const w = parseWindow('Mon-Thu 09:00-16:00 UTC')
    // 2026-01-02 is a Friday: the next window is Monday 2026-01-05 09:00
    expect(windowAt(w, new Date('2026-01-02T10:00:00Z')).start.toISOString()).toBe('2026-01-05T09:00:00.000Z')
    expect(insideWindow(w, new Date('2026-01-06T10:00:00Z'))).toBe(true)
    expect(insideWindow(w, new Date('2026-01-06T16:00:00Z'))).toBe(false)
    const night = parseWindow('Sat 22:00-02:00 +02:00')
    expect(windowAt(night, new Date('2026-01-03T21:00:00Z')).start.toISOString()).toBe('2026-01-03T20:00:00.000Z')
    expect(insideWindow(night, new Date('2026-01-03T23:30:00Z'))).toBe(true)
    expect(() => parseWindow('Funday 09:00-10:00 UTC')).toThrow(/Funday/)
    expect(() => parseWindow('25:00-26:00')).toThrow(/hours/)
  })
  it('places a due time in the window with a deterministic jitter that leaves room', () => {
    const w = parseWindow('Mon-Thu 09:00-16:00 UTC')
    const a = placeInWindow(new Date('2026-01-02T10:00:00Z'), { window: w, jitterMs: 3_600_000, seed: 'STRIPE' })
    const b = placeInWindow(new Date('2026-01-02T10:00:00Z'), { window: w, jitterMs: 3_600_000, seed: 'STRIPE' })
    expect(a).toEqual(b)
    expect(a.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-01-05T09:00:00Z'))
    expect(a.getTime()).toBeLessThan(Date.parse('2026-01-05T10:00:00Z'))
    const other = placeInWindow(new Date('2026-01-02T10:00:00Z'), { window: w, jitterMs: 3_600_000, seed: 'OPENAI' })
    expect(other).not.toEqual(a)
  })
})

describe('schedules (properties)', () => {
  it('a due time placed in a window is inside it, not before the nominal time, and stable', async () => {
    const fc = await import('fast-check')
    const windows = ['Mon-Thu 09:00-16:00 UTC', 'Sat 22:00-02:00 +02:00', 'Mon,Wed,Fri 00:00-00:30 -05:30', '13:00-13:05 UTC']
    fc.assert(
      fc.property(fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-01-01T00:00:00Z'), noInvalidDate: true }), fc.constantFrom(...windows), fc.integer({ min: 0, max: 6 * 3_600_000 }), fc.string({ minLength: 1, maxLength: 12 }), (due, text, jitterMs, seed) => {
        const w = parseWindow(text)
        const at = placeInWindow(due, { window: w, jitterMs, seed })
        expect(at.getTime()).toBeGreaterThanOrEqual(due.getTime())
        expect(insideWindow(w, at)).toBe(true)
        expect(placeInWindow(due, { window: w, jitterMs, seed })).toEqual(at)
      }),
      { numRuns: 300 },
    )
  })
})

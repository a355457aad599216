import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration, parseSince } from './duration.js'

describe('durations', () => {
  it('parses units and combinations', () => {
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('24h')).toBe(86_400_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('7d')).toBe(604_800_000)
    expect(formatDuration(5_400_000)).toBe('1h30m')
  })
  it('rejects bad input naming the flag', () => {
    for (const bad of ['', 'abc', '10', '5x', '-1h', '1h junk']) expect(() => parseDuration(bad, '--grace')).toThrow(/--grace/)
  })
  it('parses --since as a duration or an ISO date', () => {
    const now = new Date('2026-05-27T12:00:00Z')
    expect(parseSince('24h', now).toISOString()).toBe('2026-05-26T12:00:00.000Z')
    expect(parseSince('2026-05-01', now).toISOString()).toBe('2026-05-01T00:00:00.000Z')
    expect(() => parseSince('2026-13-45', now)).toThrow(/--since/)
  })
})

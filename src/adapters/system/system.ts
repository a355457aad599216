import { randomBytes } from 'node:crypto'
import type { Clock, Random } from '../../core/ports.js'

export const systemClock: Clock = { now: () => new Date() }
export const systemRandom: Random = { bytes: (n) => randomBytes(n) }

/** A clock tests can move by hand; schedules are driven with it, never with real sleeps. */
export function createFakeClock(start: Date | string = '2026-01-01T00:00:00Z'): Clock & { advance(ms: number): void; set(d: Date | string): void } {
  let t = new Date(start).getTime()
  return {
    now: () => new Date(t),
    advance: (ms) => {
      t += ms
    },
    set: (d) => {
      t = new Date(d).getTime()
    },
  }
}

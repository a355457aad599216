import { describe, expect, it } from 'vitest'
import { createVerifyCache } from './verify-cache.js'
import type { VerifyOutcome } from './verify-middleware.js'

describe('SDK verification cache', () => {
  it('gives back the outcome it was given, until its time, and never holds the key', () => {
    const c = createVerifyCache(4)
    const valid: VerifyOutcome = { valid: true, status: 'VALID', id: 'abc123def456', version: 3, deprecated: true, grace_until: '2026-12-04T00:00:00.000Z', name: 'n', service: 's' }
    const revoked: VerifyOutcome = { valid: false, status: 'REVOKED', id: 'fff000fff000', deprecated: false, reason: 'revoked' }
    const d1 = c.digest('ak_secret-one')
    const d2 = c.digest('ak_secret-two')
    expect(d1).toHaveLength(16)
    expect(d1).not.toContain('secret')
    c.set(d1, valid, 1000)
    c.set(d2, revoked, 1000)
    expect(c.get(d1, 999)).toEqual(valid)
    expect(c.get(d2, 10)).toEqual(revoked)
    expect(c.get(d1, 1000)).toBeUndefined()
    expect(c.get(c.digest('other'), 0)).toBeUndefined()
    c.set(d1, { valid: false, status: 'INVALID', deprecated: false }, 2000)
    expect(c.get(d1, 1500)).toEqual({ valid: false, status: 'INVALID', deprecated: false })
  })
  it('starts over when full instead of growing', () => {
    const c = createVerifyCache(2)
    for (const k of ['a', 'b', 'c']) c.set(c.digest(k), { valid: true, status: 'VALID', id: k.repeat(12), version: 1, deprecated: false }, 10)
    expect(c.size).toBe(1)
    expect(c.get(c.digest('c'), 0)?.id).toBe('cccccccccccc')
    expect(c.get(c.digest('a'), 0)).toBeUndefined()
  })
  it('counts uses of valid outcomes in their slots and hands them out once, surviving a reset', () => {
    const c = createVerifyCache(2)
    const a = c.digest('key-a')
    const r = c.digest('key-r')
    c.set(a, { valid: true, status: 'VALID', id: 'aaaaaaaaaaaa', version: 2, deprecated: false }, 100)
    c.set(r, { valid: false, status: 'REVOKED', id: 'bbbbbbbbbbbb', version: 1, deprecated: false }, 100)
    c.use(a, 5)
    c.use(a, 9)
    c.use(r, 9)
    expect(c.takeUses()).toEqual([{ id: 'aaaaaaaaaaaa', version: 2, count: 2, last: 9 }])
    expect(c.takeUses()).toEqual([])
    c.use(a, 11)
    c.set(c.digest('key-c'), { valid: true, status: 'VALID', id: 'cccccccccccc', version: 1, deprecated: false }, 100) // full: reset
    expect(c.takeUses()).toEqual([{ id: 'aaaaaaaaaaaa', version: 2, count: 1, last: 11 }])
  })
})

import { describe, expect, it } from 'vitest'
import type { OwnershipLedger } from './ports.js'

/** The OwnershipLedger contract: every implementation (memory, file) runs these cases. */
export function ownershipLedgerContract(name: string, make: () => Promise<OwnershipLedger> | OwnershipLedger): void {
  describe(`OwnershipLedger contract: ${name}`, () => {
    it('reads back merged changes per place; null removes an entry', async () => {
      const l = await make()
      expect((await l.read('gh:web')).size).toBe(0)
      await l.update('gh:web', new Map([['A', { fp: 'f1', stamp: 's1', at: '2026-01-01T00:00:00.000Z' }], ['B', { fp: 'f2', stamp: null, at: '2026-01-01T00:00:00.000Z' }]]))
      await l.update('gh:web', new Map([['A', null], ['C', { fp: 'f3', stamp: 's3', at: '2026-01-02T00:00:00.000Z' }]]))
      await l.update('render:api', new Map([['A', { fp: 'x', stamp: null, at: '2026-01-03T00:00:00.000Z' }]]))
      expect(Object.fromEntries(await l.read('gh:web'))).toEqual({ B: { fp: 'f2', stamp: null, at: '2026-01-01T00:00:00.000Z' }, C: { fp: 'f3', stamp: 's3', at: '2026-01-02T00:00:00.000Z' } })
      expect([...(await l.read('render:api')).keys()]).toEqual(['A'])
    })
    it('keeps every record under concurrent updates', async () => {
      const l = await make()
      await Promise.all(Array.from({ length: 20 }, (_, i) => l.update('p', new Map([[`K${i}`, { fp: `f${i}`, stamp: null, at: 't' }]]))))
      expect((await l.read('p')).size).toBe(20)
    })
  })
}

import { describe, expect, it } from 'vitest'
import type { SecretStore } from './ports.js'

/**
 * The SecretStore contract: every implementation (env files, the local-file store, PostgreSQL,
 * later Vault/SSM/Doppler/1Password) runs these cases. `make` returns a fresh, empty store.
 *
 * @example
 * secretStoreContract('local-file', async () => createLocalFileStore({ … }))
 */
export function secretStoreContract(name: string, make: () => Promise<SecretStore>): void {
  describe(`SecretStore contract: ${name}`, () => {
    it('starts empty and reads back what apply wrote, including empty values and odd characters', async () => {
      const s = await make()
      expect(await s.list()).toEqual([])
      expect(await s.get('MISSING')).toBeUndefined()
      const odd = 'multi\nline "quoted" \'single\' ${NOT_EXPANDED} # not a comment  '
      await s.apply({ set: { A_KEY: 'one', EMPTY: '', ODD: odd } })
      expect(await s.get('A_KEY')).toBe('one')
      expect(await s.get('EMPTY')).toBe('')
      expect(await s.get('ODD')).toBe(odd)
      expect(new Map(await s.getAll())).toEqual(new Map([['A_KEY', 'one'], ['EMPTY', ''], ['ODD', odd]]))
    })
    it('lists names by prefix', async () => {
      const s = await make()
      await s.apply({ set: { STRIPE_KEY: '1', STRIPE_SECRET: '2', OTHER: '3' } })
      expect((await s.list('STRIPE_')).sort()).toEqual(['STRIPE_KEY', 'STRIPE_SECRET'])
      expect((await s.list()).sort()).toEqual(['OTHER', 'STRIPE_KEY', 'STRIPE_SECRET'])
    })
    it('applies sets and deletes together, and overwrites', async () => {
      const s = await make()
      await s.apply({ set: { A: '1', B: '2' } })
      await s.apply({ set: { A: 'changed', C: '3' }, unset: ['B'] })
      expect(new Map(await s.getAll())).toEqual(new Map([['A', 'changed'], ['C', '3']]))
      if (s.capabilities.delete) {
        await s.apply({ unset: ['A', 'NEVER_THERE'] })
        expect(await s.get('A')).toBeUndefined()
      }
    })
  })
}

import { describe, expect, it } from 'vitest'
import type { CredentialProvider } from '../../core/rotation/ports.js'

/**
 * The contract every CredentialProvider keeps, run against each of them (memory, apiauth,
 * postgres, mariadb, redis, http, command) with real services where there are some.
 *
 * `setup` returns a provider whose targets currently hold `initial` (a working credential), and
 * `authenticate` tries a value the way a consumer would (a login, an API call).
 */
export interface ProviderHarness {
  provider: CredentialProvider
  initial: string
  authenticate(value: string): Promise<boolean>
  /** Makes the consumer use a credential (for usage reporting); omit when the provider has no usage. */
  use?(value: string): Promise<void>
  cleanup?(): Promise<void>
}

let counter = 0
const proposal = () => `Pr0posal${Date.now().toString(36)}x${++counter}abcdefghijklmnop`

export function credentialProviderContract(name: string, setup: () => Promise<ProviderHarness>, o: { skip?: string } = {}): void {
  describe.skipIf(o.skip !== undefined)(`CredentialProvider contract: ${name}${o.skip ? ` (skipped: ${o.skip})` : ''}`, () => {
    async function withHarness(fn: (h: ProviderHarness) => Promise<void>) {
      const h = await setup()
      try {
        await fn(h)
      } finally {
        await h.cleanup?.()
        await h.provider.close?.()
      }
    }

    it('identifies the current credential and creates a new one that works', async () => {
      await withHarness(async (h) => {
        const current = await h.provider.identify(h.initial)
        expect(current?.value).toBe(h.initial)
        expect(await h.provider.identify(null)).toBeNull()
        const created = await h.provider.create({ runId: 'rot_0000000000000001', current, proposed: proposal() })
        expect(created.id).not.toBe(current?.id)
        expect(await h.authenticate(created.value)).toBe(true)
        expect((await h.provider.test(created)).ok).toBe(true)
        if (h.provider.capabilities.dualCredential) expect(await h.authenticate(h.initial)).toBe(true)
      })
    })

    it('create is idempotent for one proposal when the provider accepts values', async () => {
      await withHarness(async (h) => {
        if (!h.provider.capabilities.acceptsValue) return
        const current = await h.provider.identify(h.initial)
        const p = proposal()
        const a = await h.provider.create({ runId: 'rot_0000000000000002', current, proposed: p })
        const b = await h.provider.create({ runId: 'rot_0000000000000002', current, proposed: p })
        expect(b).toEqual(a)
        expect(await h.authenticate(a.value)).toBe(true)
      })
    })

    it('revoke invalidates only the given credential, and is idempotent', async () => {
      await withHarness(async (h) => {
        if (!h.provider.capabilities.dualCredential) return
        const current = (await h.provider.identify(h.initial))!
        const created = await h.provider.create({ runId: 'rot_0000000000000003', current, proposed: proposal() })
        await h.provider.revoke(current)
        await h.provider.revoke(current)
        expect(await h.authenticate(h.initial)).toBe(false)
        expect(await h.authenticate(created.value)).toBe(true)
        expect((await h.provider.test(current)).ok).toBe(false)
      })
    })

    it('rollback: reinstate the previous credential and revoke the new one', async () => {
      await withHarness(async (h) => {
        if (!h.provider.capabilities.dualCredential) return
        const current = (await h.provider.identify(h.initial))!
        const created = await h.provider.create({ runId: 'rot_0000000000000004', current, proposed: proposal() })
        await h.provider.promote(created, current)
        await h.provider.reinstate(current, created)
        await h.provider.revoke(created)
        expect(await h.authenticate(h.initial)).toBe(true)
        expect(await h.authenticate(created.value)).toBe(false)
      })
    })

    it('reports usage per credential when it declares it', async () => {
      await withHarness(async (h) => {
        const current = (await h.provider.identify(h.initial))!
        const u = await h.provider.usage(current)
        if (!h.provider.capabilities.usage) {
          expect(u).toBeUndefined()
          return
        }
        expect(u).toBeDefined()
        if (h.use) {
          await h.use(h.initial)
          const after = await h.provider.usage(current)
          expect(after?.lastUsedAt).toBeInstanceOf(Date)
        }
      })
    })

    it('never puts a credential value in an error message', async () => {
      await withHarness(async (h) => {
        const bogus = { id: 'does-not-exist', value: 'CanaryValue-9f8e7d6c5b4a' }
        const r = await h.provider.test(bogus).catch((e: Error) => ({ ok: false, reason: e.message }))
        expect(r.ok).toBe(false)
        expect(JSON.stringify(r)).not.toContain('CanaryValue-9f8e7d6c5b4a')
      })
    })
  })
}

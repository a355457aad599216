import { describe, expect, it } from 'vitest'
import { createFakeClock } from '../system/system.js'
import { startHttpProviderEmulator } from '../../../test/emulators/http-provider-emulator.js'
import { createHttpProvider } from './http-provider.js'
import { credentialProviderContract } from './provider.contract.js'

credentialProviderContract('http (webhook contract, local emulator)', async () => {
  const emu = await startHttpProviderEmulator()
  const initial = 'initial-http-credential-0001'
  emu.seed(initial)
  const provider = createHttpProvider({ endpoint: emu.url, signingSecret: emu.secret, secretName: 'API_KEY', clock: { now: () => new Date() } })
  return { provider, initial, authenticate: async (v) => emu.authenticate(v), use: async (v) => void emu.authenticate(v), cleanup: () => emu.close() }
})

describe('http provider', () => {
  it('signs every request; a wrong signing secret is refused without echoing anything', async () => {
    const emu = await startHttpProviderEmulator()
    try {
      emu.seed('value-abcdefghijklmnop')
      const bad = createHttpProvider({ endpoint: emu.url, signingSecret: 'wrong', secretName: 'K', clock: createFakeClock(new Date()) })
      await expect(bad.identify('value-abcdefghijklmnop')).rejects.toThrow(/identify: 127\.0\.0\.1:\d+: HTTP 401$/)
      expect(emu.requests.every((r) => r.op === 'identify' && !r.signed)).toBe(true)
      const good = createHttpProvider({ endpoint: emu.url, signingSecret: emu.secret, secretName: 'K', clock: { now: () => new Date() } })
      await expect(good.identify('value-abcdefghijklmnop')).resolves.toMatchObject({ id: 'c1' })
      emu.down = true
      await expect(good.create({ runId: 'rot_1', current: null, proposed: 'p-0123456789abcdef' })).rejects.toMatchObject({ code: 'ADAPTER_FAILED', retryable: true })
    } finally {
      await emu.close()
    }
  })
})

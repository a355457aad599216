import { join } from 'node:path'
import { openKeysService } from '../../cli/compose-keys.js'
import { createFakeClock, systemRandom } from '../system/system.js'
import { tempDir } from '../../../test/helpers/cli.js'
import { createApiauthProvider } from './apiauth-provider.js'
import { credentialProviderContract } from './provider.contract.js'

credentialProviderContract('apiauth (file keystore, real keys service)', async () => {
  const clock = createFakeClock('2026-03-01T00:00:00Z')
  const keys = await openKeysService({ keyDir: join(tempDir(), 'keys'), env: {}, clock, random: systemRandom, actor: 'test' })
  const { entry, key } = await keys.service.generateApiKey({ name: 'stripe', service: 'payments' })
  const provider = createApiauthProvider({ keys: keys.service, keyId: entry.id, clock, graceMs: 8 * 86_400_000, trigger: 'auto', close: () => keys.close() })
  return {
    provider,
    initial: key,
    authenticate: async (v) => (await keys.service.verify(v)).status === 'VALID',
    use: async (v) => {
      clock.advance(1000)
      await keys.service.verify(v)
      await keys.service.close()
    },
  }
})

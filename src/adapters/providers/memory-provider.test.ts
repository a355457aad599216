import { createFakeClock } from '../system/system.js'
import { createMemoryProvider } from './memory-provider.js'
import { credentialProviderContract } from './provider.contract.js'

credentialProviderContract('memory', async () => {
  const provider = createMemoryProvider({ clock: createFakeClock() })
  const initial = provider.seed('initial-value-0123456789').value
  return { provider, initial, authenticate: async (v) => provider.authenticate(v), use: async (v) => void provider.authenticate(v) }
})

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { REDIS_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { withCredentials } from './postgres-provider.js'
import { createRedisProvider } from './redis-provider.js'
import { credentialProviderContract } from './provider.contract.js'

const available = await serviceAvailable('redis')

credentialProviderContract(
  'redis (real server, ACL user with two passwords)',
  async () => {
    const admin = new Redis(REDIS_URL)
    const user = `rk_u_${randomBytes(4).toString('hex')}`
    await admin.call('ACL', 'SETUSER', user, 'on', `>initial-${user}`, '~*', '+@all')
    const initial = withCredentials(REDIS_URL, user, `initial-${user}`)
    const provider = createRedisProvider({ adminUrl: REDIS_URL, user })
    return {
      provider,
      initial,
      authenticate: async (value) => {
        const r = new Redis(value, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
        r.on('error', () => undefined)
        try {
          await r.connect()
          return (await r.ping()) === 'PONG'
        } catch {
          return false
        } finally {
          r.disconnect()
        }
      },
      cleanup: async () => {
        await admin.call('ACL', 'DELUSER', user)
        admin.disconnect()
      },
    }
  },
  available ? {} : { skip: 'redis is not reachable' },
)

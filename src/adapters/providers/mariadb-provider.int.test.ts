import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import { createFakeClock, systemRandom } from '../system/system.js'
import { MARIADB_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { createMariadbProvider } from './mariadb-provider.js'
import { withCredentials } from './postgres-provider.js'
import { credentialProviderContract } from './provider.contract.js'

const available = await serviceAvailable('mariadb')

credentialProviderContract(
  'mariadb (real server, alternating users)',
  async () => {
    const admin = await mysql.createConnection({ uri: MARIADB_URL })
    const tag = randomBytes(4).toString('hex')
    const users = [`rk_a_${tag}`, `rk_b_${tag}`] as const
    for (const u of users) {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [u, '%', `initial-${tag}`])
      await admin.query(`GRANT SELECT ON test.* TO ?@?`, [u, '%'])
    }
    const initial = withCredentials(MARIADB_URL, users[0], `initial-${tag}`)
    const held: mysql.Connection[] = []
    const provider = createMariadbProvider({ adminUrl: MARIADB_URL, roles: users, clock: createFakeClock(), random: systemRandom })
    return {
      provider,
      initial,
      authenticate: async (value) => {
        try {
          const c = await mysql.createConnection({ uri: value })
          await c.end()
          return true
        } catch {
          return false
        }
      },
      use: async (value) => void held.push(await mysql.createConnection({ uri: value })),
      cleanup: async () => {
        for (const c of held) await c.end().catch(() => undefined)
        for (const u of users) await admin.query('DROP USER IF EXISTS ?@?', [u, '%'])
        await admin.end()
      },
    }
  },
  available ? {} : { skip: 'mariadb is not reachable' },
)

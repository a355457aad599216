import { randomBytes } from 'node:crypto'
import { scramMatches } from '../../../test/emulators/pg-scram.js'
import pg from 'pg'
import { createFakeClock } from '../system/system.js'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { createPostgresProvider, withCredentials } from './postgres-provider.js'
import { credentialProviderContract } from './provider.contract.js'

/** Real PostgreSQL; `authenticate` also checks the stored SCRAM verifier (pg_hba is trust here). */
const available = await serviceAvailable('postgres')

credentialProviderContract(
  'postgres (real server, alternating roles)',
  async () => {
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    const tag = randomBytes(4).toString('hex')
    const roles = [`rk_a_${tag}`, `rk_b_${tag}`] as const
    for (const r of roles) await admin.query(`CREATE ROLE ${r} LOGIN PASSWORD 'initial-${tag}'`)
    const initial = withCredentials(PG_URL, roles[0], `initial-${tag}`)
    const held: pg.Client[] = []
    const provider = createPostgresProvider({ adminUrl: PG_URL, roles, clock: createFakeClock() })
    const authenticate = async (value: string) => {
      const u = new URL(value)
      const c = new pg.Client({ connectionString: value })
      try {
        await c.connect()
      } catch {
        return false
      } finally {
        await c.end().catch(() => undefined)
      }
      return scramMatches(admin, decodeURIComponent(u.username), decodeURIComponent(u.password))
    }
    return {
      provider,
      initial,
      authenticate,
      use: async (value) => {
        const c = new pg.Client({ connectionString: value })
        await c.connect()
        held.push(c)
      },
      cleanup: async () => {
        for (const c of held) await c.end().catch(() => undefined)
        for (const r of roles) await admin.query(`DROP ROLE IF EXISTS ${r}`)
        await admin.end()
      },
    }
  },
  available ? {} : { skip: 'postgres is not reachable' },
)

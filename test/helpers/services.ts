import { connect } from 'node:net'

export type ServiceName = 'postgres' | 'mariadb' | 'redis' | 'rabbitmq' | 'nats'

const PORTS: Record<ServiceName, number> = { postgres: 5432, mariadb: 3306, redis: 6379, rabbitmq: 5672, nats: 4222 }

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1000, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/**
 * Whether a real service is reachable. When it is not: with REKEY_TEST_REQUIRE_SERVICES=1 (CI)
 * this throws, failing the run; otherwise it prints why the suite is skipped and returns false.
 * Use as `describe.skipIf(!(await serviceAvailable('postgres')))(…)`.
 */
export async function serviceAvailable(name: ServiceName): Promise<boolean> {
  if (await probe(PORTS[name])) return true
  const why = `${name} is not reachable on 127.0.0.1:${PORTS[name]}`
  if (process.env.REKEY_TEST_REQUIRE_SERVICES === '1') throw new Error(`${why}, and REKEY_TEST_REQUIRE_SERVICES=1 requires it`)
  console.warn(`skipping ${name} tests: ${why}`)
  return false
}

export const PG_URL = process.env.REKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const MARIADB_URL = process.env.REKEY_TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test'
export const REDIS_URL = process.env.REKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

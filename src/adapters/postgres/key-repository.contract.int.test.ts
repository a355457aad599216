import { describe, onTestFinished } from 'vitest'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { keyRepositoryContract } from '../../core/keys/key-repository.contract.js'
import { createPgKeyRepository } from './key-repository.js'
import { freshSchema } from './test-schema.js'

describe.skipIf(!(await serviceAvailable('postgres')))('PostgreSQL key repository', () => {
  keyRepositoryContract('postgres', async () => {
    const s = await freshSchema(PG_URL)
    onTestFinished(() => s.drop())
    return createPgKeyRepository(s.pool)
  })
})

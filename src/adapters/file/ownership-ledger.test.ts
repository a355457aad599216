import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/cli.js'
import { ownershipLedgerContract } from '../../core/env/ownership-ledger.contract.js'
import { createMemoryLedger } from '../../core/env/ownership.js'
import { createFileLedger } from './ownership-ledger.js'

ownershipLedgerContract('memory', () => createMemoryLedger())
ownershipLedgerContract('file', () => createFileLedger(join(tempDir(), '.rekey', 'ledger.json')))

describe('file ownership ledger', () => {
  it('is private (0600 in 0700), holds no values, and names the file when corrupt', async () => {
    const dir = join(tempDir(), '.rekey')
    const path = join(dir, 'ledger.json')
    const l = createFileLedger(path)
    await l.update('gh:web', new Map([['A', { fp: 'ab'.repeat(32), stamp: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00.000Z' }]]))
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    writeFileSync(path, '{not json')
    await expect(l.read('gh:web')).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining('ledger.json') })
  })
})

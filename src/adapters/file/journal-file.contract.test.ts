import { join } from 'node:path'
import { tempDir } from '../../../test/helpers/cli.js'
import { journalContract } from '../../core/rotation/journal.contract.js'
import { createFileJournal } from './journal-file.js'

journalContract('file (.rekey/)', async () => {
  const dir = join(tempDir(), '.rekey')
  // b is another live process on this host (another pid); pid + 1,000,001 is one that was killed.
  const isAlive = (pid: number) => pid === process.pid || pid === process.pid + 1_000_000
  return {
    a: createFileJournal({ dir, isAlive }),
    b: createFileJournal({ dir, pid: process.pid + 1_000_000, isAlive }),
    async lockAndDie(secret, runId) {
      const dead = createFileJournal({ dir, pid: process.pid + 1_000_001 })
      // Holds the lock and never lets go, as a killed process leaves its lock file behind.
      await new Promise<void>((locked) => void dead.withSecretLock(secret, runId, () => (locked(), new Promise<never>(() => undefined))))
    },
  }
})

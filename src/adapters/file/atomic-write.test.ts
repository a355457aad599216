import { describe, expect, it } from 'vitest'
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-write.js'
import { withFileLock } from './file-lock.js'
import { tempDir } from '../../../test/helpers/cli.js'

describe('atomic write', () => {
  it('replaces the file, keeps the previous generation, mode 0600, no temp left', async () => {
    const dir = tempDir()
    const p = join(dir, 'store.enc')
    await writeFileAtomic(p, 'one', { keepPrevious: true })
    await writeFileAtomic(p, 'two', { keepPrevious: true })
    expect(readFileSync(p, 'utf8')).toBe('two')
    expect(readFileSync(`${p}.prev`, 'utf8')).toBe('one')
    expect(statSync(p).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
  it('leaves the old file when the write fails, naming the file', async () => {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions; use a path whose parent is a file instead
      const dir = tempDir()
      writeFileSync(join(dir, 'f'), 'x')
      await expect(writeFileAtomic(join(dir, 'f', 'y'), 'z')).rejects.toThrow(/f\/y/)
      return
    }
    const dir = tempDir()
    const p = join(dir, 'a.env')
    writeFileSync(p, 'old')
    chmodSync(dir, 0o500)
    await expect(writeFileAtomic(p, 'new')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' })
    chmodSync(dir, 0o700)
    expect(readFileSync(p, 'utf8')).toBe('old')
  })
  it('serialises read-modify-write across concurrent holders', async () => {
    const p = join(tempDir(), 'counter')
    writeFileSync(p, '0')
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(p, async () => {
          const n = Number(readFileSync(p, 'utf8'))
          await new Promise((r) => setTimeout(r, 5))
          await writeFileAtomic(p, String(n + 1))
        }),
      ),
    )
    expect(readFileSync(p, 'utf8')).toBe('10')
  })
})

describe('file lock after a crash', () => {
  it('takes over at once a lock left by a process killed while holding it', async () => {
    const { spawn } = await import('node:child_process')
    const { mkdirSync } = await import('node:fs')
    const { hostname } = await import('node:os')
    const p = join(tempDir(), 'store.enc')
    // A crashed holder: its lock directory and owner record remain, and its pid is dead.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    const deadPid = child.pid!
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    mkdirSync(`${p}.lock`)
    writeFileSync(`${p}.lock.owner`, JSON.stringify({ pid: deadPid, host: hostname() }))
    // Broken without waiting the 15 s staleness period (waitMs 3 s would fail otherwise).
    expect(await withFileLock(p, async () => 'acquired', { waitMs: 3000, staleMs: 15_000 })).toBe('acquired')
  })
  it('waits for a live holder and never breaks its lock', async () => {
    const { mkdirSync } = await import('node:fs')
    const { hostname } = await import('node:os')
    const p = join(tempDir(), 'store.enc')
    mkdirSync(`${p}.lock`)
    writeFileSync(`${p}.lock.owner`, JSON.stringify({ pid: process.ppid, host: hostname() }))
    await expect(withFileLock(p, async () => 'acquired', { waitMs: 500, staleMs: 15_000 })).rejects.toMatchObject({ code: 'STORE_LOCKED' })
  })
})

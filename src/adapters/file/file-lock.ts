import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import lockfile from 'proper-lockfile'
import { AppError } from '../../core/errors.js'
import type { LockManager } from '../../core/ports.js'

export interface FileLockOptions {
  /** How long to keep retrying before giving up (default 30 s). */
  waitMs?: number
  /** A lock not refreshed for this long is taken as left by a dead process (default 15 s). */
  staleMs?: number
}

const HOST = hostname()

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readOwner(ownerFile: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const o = JSON.parse(await fs.readFile(ownerFile, 'utf8')) as { pid?: unknown; host?: unknown }
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host } : undefined
  } catch {
    return undefined
  }
}

/**
 * Breaks a lock whose owner (recorded beside the lock directory, as `<lock>.owner`) is a dead
 * process on this host, so the next command after a `kill -9` need not wait for the lock to go
 * stale. The directory is renamed aside first (atomic, so only one waiter wins), and the owner
 * record is removed before anyone can take the lock again. A lock with no owner record is left
 * to proper-lockfile's staleness check.
 */
async function breakDeadLock(lockDir: string): Promise<boolean> {
  const ownerFile = `${lockDir}.owner`
  const owner = await readOwner(ownerFile)
  if (!owner || owner.host !== HOST || owner.pid === process.pid || isAlive(owner.pid)) return false
  const aside = `${lockDir}.dead-${randomBytes(4).toString('hex')}`
  try {
    await fs.rename(lockDir, aside)
  } catch {
    return false
  }
  await fs.rm(ownerFile, { force: true })
  await fs.rm(aside, { recursive: true, force: true })
  return true
}

/**
 * Runs `fn` holding a cross-process lock on `path` (the lock is `<path>.lock`, a directory made
 * atomically by proper-lockfile and refreshed while held). A lock left by a process that died on
 * this host is broken at once (its pid is recorded in the lock); any other is broken when stale.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: FileLockOptions = {}): Promise<T> {
  const waitMs = o.waitMs ?? 30_000
  const staleMs = o.staleMs ?? 15_000
  const lockDir = `${path}.lock`
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const attempt = () =>
    lockfile.lock(path, {
      realpath: false,
      lockfilePath: lockDir,
      stale: staleMs,
      update: Math.max(1000, Math.floor(staleMs / 3)),
      retries: { retries: 8, factor: 1.2, minTimeout: 10, maxTimeout: 200, randomize: true },
      onCompromised: () => undefined,
    })
  const deadline = Date.now() + waitMs
  let release: (() => Promise<void>) | undefined
  let lastError: unknown
  while (release === undefined) {
    try {
      release = await attempt()
    } catch (e) {
      lastError = e
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') break
      if (await breakDeadLock(lockDir)) continue
      if (Date.now() >= deadline) break
    }
  }
  if (release === undefined) {
    throw new AppError('STORE_LOCKED', `${path} is locked by another process`, { cause: lastError, retryable: true, hint: 'wait for the other command to finish' })
  }
  const ownerFile = `${lockDir}.owner`
  try {
    await fs.writeFile(ownerFile, JSON.stringify({ pid: process.pid, host: HOST }), { mode: 0o600 }).catch(() => undefined)
    return await fn()
  } finally {
    await fs.rm(ownerFile, { force: true }).catch(() => undefined)
    await release().catch(() => undefined)
  }
}

/** A LockManager whose resources are files under a directory. */
export function createFileLockManager(dir: string, o: FileLockOptions = {}): LockManager {
  return {
    withLock: (resource, fn) => withFileLock(`${dir}/${resource.replace(/[^A-Za-z0-9._-]/g, '_')}`, fn, o),
  }
}

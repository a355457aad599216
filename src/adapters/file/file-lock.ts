import { promises as fs } from 'node:fs'
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

/**
 * Runs `fn` holding a cross-process lock on `path` (the lock is `<path>.lock`, a directory made
 * atomically by proper-lockfile, refreshed while held and broken when stale after a crash).
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: FileLockOptions = {}): Promise<T> {
  const waitMs = o.waitMs ?? 30_000
  const staleMs = o.staleMs ?? 15_000
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 })
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: `${path}.lock`,
      stale: staleMs,
      update: Math.max(1000, Math.floor(staleMs / 3)),
      retries: { retries: Math.ceil(waitMs / 50), factor: 1.2, minTimeout: 10, maxTimeout: 200, randomize: true },
      onCompromised: () => undefined,
    })
  } catch (cause) {
    throw new AppError('STORE_LOCKED', `${path} is locked by another process`, { cause, retryable: true, hint: 'wait for the other command to finish' })
  }
  try {
    return await fn()
  } finally {
    await release().catch(() => undefined)
  }
}

/** A LockManager whose resources are files under a directory. */
export function createFileLockManager(dir: string, o: FileLockOptions = {}): LockManager {
  return {
    withLock: (resource, fn) => withFileLock(`${dir}/${resource.replace(/[^A-Za-z0-9._-]/g, '_')}`, fn, o),
  }
}

import { randomBytes } from 'node:crypto'
import { promises as fs, constants as fsc } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { AppError } from '../../core/errors.js'

export interface AtomicWriteOptions {
  /** File mode for the new file (default 0600). */
  mode?: number
  /** Keep the replaced file as `<path>.prev`, so a damaged store can be recovered. */
  keepPrevious?: boolean
  /** Names the file in errors (defaults to its path). */
  what?: string
}

/** Creates a directory (and parents) with mode 0700; tightens an existing one we own. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
}

/** fsyncs a directory so a rename in it is durable (a no-op where the filesystem refuses). */
export async function fsyncDir(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined
  try {
    h = await fs.open(dir, fsc.O_RDONLY)
    await h.sync()
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await h?.close()
  }
}

/**
 * Writes `data` to `path` so that a reader (or a crash) sees either the old file or the new one,
 * never a mix: temp file in the same directory (created exclusively, 0600), write, fsync, then
 * rename over the target and fsync the directory. Callers hold the file's lock.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const mode = o.mode ?? 0o600
  let h: fs.FileHandle | undefined
  try {
    h = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode)
    await h.writeFile(data)
    await h.sync()
    await h.close()
    h = undefined
    await fs.chmod(tmp, mode)
    if (o.keepPrevious) {
      try {
        await fs.copyFile(path, `${path}.prev`)
        await fs.chmod(`${path}.prev`, mode)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      }
    }
    await fs.rename(tmp, path)
    await fsyncDir(dir)
  } catch (e) {
    await h?.close().catch(() => undefined)
    await fs.rm(tmp, { force: true }).catch(() => undefined)
    throw fileError(e, o.what ?? path, 'write')
  }
}

/** Maps an fs error to an AppError that names the file, never its content. */
export function fileError(e: unknown, what: string, op: 'read' | 'write' | 'lock'): AppError {
  if (e instanceof AppError) return e
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AppError('PERMISSION_DENIED', `cannot ${op} ${what}: permission denied`, { cause: e })
  }
  if (code === 'ENOENT') return new AppError('NOT_FOUND', `cannot ${op} ${what}: no such file or directory`, { cause: e })
  if (code === 'ENOSPC') return new AppError('ADAPTER_FAILED', `cannot ${op} ${what}: no space left on device`, { cause: e, retryable: true })
  return new AppError('ADAPTER_FAILED', `cannot ${op} ${what}: ${code ?? 'I/O error'}`, { cause: e })
}

/** Reads a file as UTF-8, or undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw fileError(e, path, 'read')
  }
}

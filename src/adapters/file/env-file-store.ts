import { createHash, randomBytes } from 'node:crypto'
import { promises as fs, constants as fsc } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { AppError } from '../../core/errors.js'
import { assertText, parseDotenv } from '../../core/env/dotenv-parse.js'
import type { EnvFileGateway, EnvFileRef, EnvKeyring, EnvWrite, LoadedEnvFile } from '../../core/env/ports.js'
import { deriveKey, SCRYPT_DEFAULTS } from '../../core/crypto/kdf.js'
import { fileError, fsyncDir } from './atomic-write.js'
import { withFileLock } from './file-lock.js'
import { loadMasterKey } from './master-key.js'

/** Files larger than this are refused (a .env file is text a person edits). */
export const MAX_ENV_FILE_BYTES = 64 * 1024 * 1024


/** Reads and parses a .env file; binary or oversized files are refused with the file's name. */
export async function readEnvFile(ref: EnvFileRef, o: { allowMissing: boolean }): Promise<LoadedEnvFile> {
  let buf: Buffer
  try {
    const st = await fs.stat(ref.path)
    if (!st.isFile()) throw new AppError('PARSE_ERROR', `${ref.what} is not a regular file`)
    if (st.size > MAX_ENV_FILE_BYTES) throw new AppError('PARSE_ERROR', `${ref.what} is too large (${st.size} bytes; the limit is ${MAX_ENV_FILE_BYTES})`)
    buf = await fs.readFile(ref.path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (o.allowMissing) return { ...ref, exists: false, text: '', doc: parseDotenv('') }
      throw new AppError('NOT_FOUND', `${ref.what} does not exist`, { cause: e })
    }
    throw fileError(e, ref.what, 'read')
  }
  const text = assertText(buf, ref.what)
  return { ...ref, exists: true, text, doc: parseDotenv(text) }
}

/** The file-system calls a commit makes; tests replace `rename` to fail part-way. */
export interface CommitFs {
  rename(from: string, to: string): Promise<void>
}

const realFs: CommitFs = { rename: (a, b) => fs.rename(a, b) }

function tmpName(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.${tag}`)
}

/**
 * Reads, changes and writes one or more .env files as one all-or-nothing operation.
 *
 * The files are locked in sorted path order (so two commands never wait on each other in a
 * cycle), read, and handed to `fn`, which returns the new texts. Every new text goes to an
 * fsynced temp file first; then `beforeCommit` runs (the use case appends its audit events there:
 * if that fails, nothing changes); then each temp file is renamed over its target, keeping a hard
 * link to the old file. If a rename fails part-way, the files already replaced are put back from
 * those links, so every file ends as it was. A read-only target is refused before anything is
 * written.
 */
export async function commitEnvFiles<T>(
  refs: EnvFileRef[],
  fn: (files: LoadedEnvFile[]) => Promise<{ writes: EnvWrite[]; result: T; beforeCommit?: () => Promise<void> }>,
  o: { fs?: CommitFs; lockWaitMs?: number } = {},
): Promise<T> {
  const ops = o.fs ?? realFs
  const sorted = [...new Map(refs.map((r) => [r.path, r])).values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const lockAll = async (i: number): Promise<T> => {
    if (i < sorted.length) return withFileLock(sorted[i]!.path, () => lockAll(i + 1), o.lockWaitMs === undefined ? {} : { waitMs: o.lockWaitMs })
    const files = await Promise.all(sorted.map((r) => readEnvFile(r, { allowMissing: true })))
    const { writes, result, beforeCommit } = await fn(files)
    const changed = writes.filter((w) => files.find((f) => f.path === w.path)?.text !== w.text || !files.find((f) => f.path === w.path)?.exists)
    if (changed.length === 0) return result
    for (const w of changed) {
      const f = files.find((x) => x.path === w.path)
      if (!f) throw new AppError('INTERNAL', 'write to a file that was not locked')
      if (f.exists) {
        const st = await fs.stat(f.path)
        if ((st.mode & 0o222) === 0) throw new AppError('PERMISSION_DENIED', `cannot write ${f.what}: the file is read-only; nothing was changed`)
      }
    }
    const temps: { w: EnvWrite; tmp: string; what: string; existed: boolean; backup?: string }[] = []
    try {
      for (const w of changed) {
        const f = files.find((x) => x.path === w.path)!
        const tmp = tmpName(w.path, 'tmp')
        temps.push({ w, tmp, what: f.what, existed: f.exists })
        let h: fs.FileHandle | undefined
        try {
          h = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600)
          await h.writeFile(w.text)
          await h.sync()
        } catch (e) {
          throw fileError(e, f.what, 'write')
        } finally {
          await h?.close().catch(() => undefined)
        }
      }
      if (beforeCommit) await beforeCommit()
    } catch (e) {
      await Promise.all(temps.map((t) => fs.rm(t.tmp, { force: true }).catch(() => undefined)))
      throw e
    }
    const done: typeof temps = []
    try {
      for (const t of temps) {
        if (t.existed) {
          const backup = tmpName(t.w.path, 'bak')
          try {
            await fs.link(t.w.path, backup)
          } catch {
            await fs.copyFile(t.w.path, backup)
          }
          t.backup = backup
        }
        try {
          await ops.rename(t.tmp, t.w.path)
        } catch (e) {
          throw fileError(e, t.what, 'write')
        }
        done.push(t)
      }
    } catch (e) {
      // Put back every file already replaced, so the operation is all-or-nothing.
      for (const t of done.reverse()) {
        if (t.backup) await fs.rename(t.backup, t.w.path).catch(() => undefined)
        else await fs.rm(t.w.path, { force: true }).catch(() => undefined)
      }
      await Promise.all(temps.map(async (t) => {
        await fs.rm(t.tmp, { force: true }).catch(() => undefined)
        if (t.backup) await fs.rm(t.backup, { force: true }).catch(() => undefined)
      }))
      throw e
    }
    for (const dir of new Set(temps.map((t) => dirname(t.w.path)))) await fsyncDir(dir)
    for (const t of temps) if (t.backup) await fs.rm(t.backup, { force: true }).catch(() => undefined)
    return result
  }
  return lockAll(0)
}


export const MASTER_KEY_ENV = 'ENVAULT_MASTER_KEY'

/**
 * Resolves the key from ENVAULT_MASTER_KEY, else the project's 0600 key file. A raw key (64 hex
 * or base64 of 32 bytes) is used as is; a passphrase goes through scrypt with a per-project salt.
 * A key file readable by others is refused.
 */
export function createEnvKeyring(o: { project: string; keyFile: string; env: Record<string, string | undefined> }): EnvKeyring {
  let cached: Buffer | undefined
  return {
    async dataKey(opts = {}) {
      if (cached) return cached
      if (!o.env[MASTER_KEY_ENV]) {
        try {
          const st = await fs.stat(o.keyFile)
          if ((st.mode & 0o077) !== 0) {
            throw new AppError('MASTER_KEY_INVALID', `the key file ${basename(o.keyFile)} is readable by other users`, { hint: `run: chmod 600 ${o.keyFile}` })
          }
        } catch (e) {
          if (e instanceof AppError) throw e
        }
      }
      let material
      try {
        material = await loadMasterKey({ envVar: MASTER_KEY_ENV, env: o.env, keyFile: o.keyFile, create: opts.create === true })
      } catch (e) {
        if (e instanceof AppError && e.code === 'MASTER_KEY_MISSING') {
          throw new AppError('MASTER_KEY_MISSING', `no master key to read encrypted values: set ${MASTER_KEY_ENV} or create ${basename(o.keyFile)} (envault encrypt creates one)`, { cause: e })
        }
        throw e
      }
      const salt = createHash('sha256').update(`envault-salt|${o.project}`).digest('base64')
      cached = await deriveKey(material, material.kind === 'raw' ? { alg: 'none' } : { alg: 'scrypt', salt, ...SCRYPT_DEFAULTS })
      return cached
    },
  }
}

/** The file-backed EnvFileGateway. */
export function createEnvFileGateway(o: { fs?: CommitFs; lockWaitMs?: number } = {}): EnvFileGateway {
  return {
    read: readEnvFile,
    async stamp(ref) {
      try {
        const st = await fs.stat(ref.path)
        return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
      } catch {
        return 'missing'
      }
    },
    commit: (refs, fn) => commitEnvFiles(refs, fn, o),
  }
}

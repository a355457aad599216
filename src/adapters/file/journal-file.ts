import { randomBytes } from 'node:crypto'
import { promises as fs, constants as fsc } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { AppError } from '../../core/errors.js'
import type { DueEntry, RotationJournal, SecretState } from '../../core/rotation/ports.js'
import type { RotationRun } from '../../core/rotation/rotation-state.js'
import { ensurePrivateDir, fileError, readFileIfExists, writeFileAtomic } from './atomic-write.js'
import { withFileLock } from './file-lock.js'

/**
 * The rotation journal in the project folder:
 *
 *   .rekey/               0700
 *     runs/rot_<hex>.json one file per run, replaced atomically at every transition (0600)
 *     due.json            the due-index: when each secret next needs attention (read by tick)
 *     state/<secret>.json per-secret state, only for secrets something happened to
 *     locks/<secret>.lock who runs a rotation of this secret now: {pid, host, run}
 *
 * The per-secret lock is a file created exclusively and holding the owner's pid, so a second
 * `rekey rotate` fails at once with the owner's run id instead of waiting, and a lock left by a
 * process that was killed (kill -9) is recognised (its pid is gone) and taken over by resume/tick.
 */
export interface FileJournalOptions {
  dir: string // the .rekey directory
  /** Identity of this process for the lock (tests may pass another). */
  pid?: number
  host?: string
  /** Whether a pid is alive on this host (defaults to signal 0). */
  isAlive?: (pid: number) => boolean
}

const RUN_ID = /^rot_[0-9a-f]{8,32}$/

function defaultIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function lockName(secret: string): string {
  return secret.replace(/[^A-Za-z0-9._-]/g, '_')
}

export function createFileJournal(o: FileJournalOptions): RotationJournal {
  const runsDir = join(o.dir, 'runs')
  const locksDir = join(o.dir, 'locks')
  const duePath = join(o.dir, 'due.json')
  const stateDir = join(o.dir, 'state')
  const pid = o.pid ?? process.pid
  const host = o.host ?? hostname()
  const isAlive = o.isAlive ?? defaultIsAlive

  async function readDueFile(): Promise<Map<string, DueEntry>> {
    const text = await readFileIfExists(duePath)
    if (text === undefined) return new Map()
    try {
      const doc = JSON.parse(text) as { version: 1; due: Record<string, DueEntry> }
      return new Map(Object.entries(doc.due))
    } catch {
      throw new AppError('STORE_CORRUPT', `${duePath} is corrupt`, { hint: 'delete it: the next "rekey tick" rebuilds it from the policies' })
    }
  }

  /**
   * Creates the lock file with its content in one step: the content is written and synced to a
   * private temp file, then hard-linked to the lock's name (link fails with EEXIST if it exists).
   * A taker never sees an empty lock file it could mistake for a dead writer's.
   */
  async function tryCreateLock(path: string, runId: string): Promise<boolean> {
    const tmp = `${path}.${pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      const h = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600)
      try {
        await h.writeFile(JSON.stringify({ pid, host, run: runId, at: new Date().toISOString() }))
        await h.sync()
      } finally {
        await h.close()
      }
      await fs.link(tmp, path)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw fileError(e, path, 'lock')
    } finally {
      await fs.rm(tmp, { force: true }).catch(() => undefined)
    }
  }

  return {
    async getRun(id) {
      if (!RUN_ID.test(id)) return undefined
      const text = await readFileIfExists(join(runsDir, `${id}.json`))
      if (text === undefined) return undefined
      try {
        return JSON.parse(text) as RotationRun
      } catch {
        throw new AppError('STORE_CORRUPT', `run file ${id}.json is corrupt`, { hint: 'inspect it; "rekey history" lists the other runs' })
      }
    },
    async saveRun(run) {
      await ensurePrivateDir(runsDir)
      await writeFileAtomic(join(runsDir, `${run.id}.json`), JSON.stringify(run, null, 1) + '\n', { what: `run file ${run.id}.json` })
    },
    async listRuns(secret) {
      let names: string[]
      try {
        names = await fs.readdir(runsDir)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
        throw fileError(e, runsDir, 'read')
      }
      const runs: RotationRun[] = []
      for (const n of names) {
        if (!n.endsWith('.json')) continue
        const text = await readFileIfExists(join(runsDir, n))
        if (text === undefined) continue
        try {
          const r = JSON.parse(text) as RotationRun
          if (secret === undefined || r.secret === secret) runs.push(r)
        } catch {
          // A damaged run file is reported by `rekey status`, not fatal to listing.
        }
      }
      return runs.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
    },
    async getState(secret) {
      const text = await readFileIfExists(join(stateDir, `${lockName(secret)}.json`))
      if (text === undefined) return undefined
      try {
        return JSON.parse(text) as SecretState
      } catch {
        throw new AppError('STORE_CORRUPT', `state file of ${secret} is corrupt`, { hint: 'restore it from the .prev file beside it' })
      }
    },
    async putState(s) {
      await ensurePrivateDir(stateDir)
      await writeFileAtomic(join(stateDir, `${lockName(s.secret)}.json`), JSON.stringify(s) + '\n', { keepPrevious: true, what: `state file of ${s.secret}` })
    },
    async listStates() {
      let names: string[]
      try {
        names = await fs.readdir(stateDir)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
        throw fileError(e, stateDir, 'read')
      }
      const out: SecretState[] = []
      for (const n of names.filter((x) => x.endsWith('.json'))) {
        const text = await readFileIfExists(join(stateDir, n))
        if (text !== undefined) out.push(JSON.parse(text) as SecretState)
      }
      return out
    },
    readDue: readDueFile,
    async updateDue(changes) {
      if (changes.size === 0) return
      await ensurePrivateDir(o.dir)
      await withFileLock(duePath, async () => {
        const due = await readDueFile()
        for (const [k, v] of changes) {
          if (v === null) due.delete(k)
          else due.set(k, v)
        }
        await writeFileAtomic(duePath, JSON.stringify({ version: 1, due: Object.fromEntries(due) }) + '\n', { what: duePath })
      })
    },
    async withSecretLock(secret, runId, fn) {
      await ensurePrivateDir(locksDir)
      const path = join(locksDir, `${lockName(secret)}.lock`)
      let got = await tryCreateLock(path, runId)
      if (!got) {
        // Decide under a short guard whether the holder is dead, so two takers cannot both break it.
        got = await withFileLock(`${path}.guard`, async () => {
          const text = await readFileIfExists(path)
          if (text === undefined) return tryCreateLock(path, runId)
          let holder: { pid?: number; host?: string; run?: string } = {}
          try {
            holder = JSON.parse(text) as typeof holder
          } catch {
            // An empty or torn lock file: its writer died between create and write.
          }
          const dead = holder.pid === undefined || (holder.host === host && holder.pid !== pid && !isAlive(holder.pid))
          if (!dead) {
            throw new AppError('IN_PROGRESS', `${secret}: in progress (run ${holder.run ?? 'unknown'})`, {
              hint: `another rekey process (pid ${holder.pid}) is rotating it; wait for it, or check "rekey status"`,
            })
          }
          await fs.rm(path, { force: true })
          return tryCreateLock(path, runId)
        })
      }
      if (!got) throw new AppError('IN_PROGRESS', `${secret}: in progress (run unknown)`)
      try {
        return await fn()
      } finally {
        await fs.rm(path, { force: true }).catch(() => undefined)
      }
    },
  }
}

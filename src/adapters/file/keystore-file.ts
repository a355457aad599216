import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { openDocument, sealDocument } from '../../core/crypto/aead.js'
import { newKdfParams, type KdfParams, type MasterKeyMaterial } from '../../core/crypto/kdf.js'
import { AppError } from '../../core/errors.js'
import type { KeyEntry, KeyUsage } from '../../core/keys/key-entry.js'
import { HashIndex, addUse, cloneEntry, createWorkingTx, freezeEntry, onlyIds, withUsage, type UsageTally } from '../../core/keys/key-index.js'
import type { KeyRepository, SigningKeyStore } from '../../core/keys/ports.js'
import type { Random } from '../../core/ports.js'
import { ensurePrivateDir, fileError, writeFileAtomic } from './atomic-write.js'
import { withFileLock } from './file-lock.js'

export const KEYSTORE_FORMAT = 'apiauth-keystore'
const PLACE = 'keystore'
const USAGE_LINE = /^([0-9a-f]{12}) (\d+) (\d+)$/
const FOLDING = /^usage-(\d+)\.folding$/

/** The decrypted keystore document. */
interface KeystoreDoc {
  schema: 1
  /** Usage files with a generation up to this one are already folded into `keys`. */
  usage_gen: number
  keys: KeyEntry[]
  /** JWT signing secrets by key id, base64. */
  signing: Record<string, string>
}

interface State {
  /** Identity of the file this state was read from (undefined: no file yet). */
  stamp: string | undefined
  kdf: KdfParams | undefined
  usageGen: number
  byId: Map<string, KeyEntry>
  index: HashIndex
  signing: Map<string, string>
}

export interface FileKeystoreOptions {
  /** The key directory (created 0700 on first write). */
  dir: string
  material: MasterKeyMaterial
  random: Random
  /** Flush buffered usage records once this many are waiting (default 256). */
  usageFlushAt?: number
  /** Flush buffered usage records after this long (default 1000 ms; the timer is unref'd). */
  usageFlushMs?: number
  /** How long to wait for another process's lock (default 30 s). */
  lockWaitMs?: number
  /**
   * How often the verify path (`findByHash`) checks whether another process changed the file
   * (default 250 ms), so a revoke or rotate elsewhere takes effect within that time without a
   * `stat` per verification. This process's own writes take effect at once.
   */
  recheckMs?: number
  /** Injected in tests. */
  nowMs?: () => number
}

export interface FileKeystorePaths {
  dir: string
  keystore: string
  previous: string
  usage: string
}

export interface FileKeystore {
  repo: KeyRepository
  signing: SigningKeyStore
  paths: FileKeystorePaths
  /** True when the keystore file exists. */
  exists(): boolean
  /** Opens the store and returns the number of keys (throws a clear error if it cannot). */
  check(): Promise<number>
  /**
   * Replaces a damaged keystore with its previous generation (`keystore.enc.prev`), keeping the
   * damaged file beside it. Refuses when the current file opens fine, or when the previous
   * generation does not open either. `beforeCommit` runs before the swap (the audit event).
   */
  recover(beforeCommit?: (r: RecoverResult) => Promise<void>): Promise<RecoverResult>
}

export interface RecoverResult {
  restoredFrom: string
  damagedKeptAs: string
  keys: number
}

export function keystorePaths(dir: string): FileKeystorePaths {
  const keystore = join(dir, 'keystore.enc')
  return { dir, keystore, previous: `${keystore}.prev`, usage: join(dir, 'usage.log') }
}

function stampOf(path: string): string | undefined {
  // Plain (not bigint) stat: about 3x cheaper on the verify path. Every write is a rename, so
  // the inode changes with each generation; size and mtime catch an in-place edit.
  const st = statSync(path, { throwIfNoEntry: false })
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : undefined
}

/**
 * Writes to each keystore path by any instance in this process, so another instance in the same
 * process (the quickstart's demo service beside the rotation engine) sees a change at once even
 * between the verify path's file checks.
 */
const localWrites = new Map<string, number>()
const bumpLocal = (path: string) => localWrites.set(path, (localWrites.get(path) ?? 0) + 1)

function emptyState(): State {
  return { stamp: undefined, kdf: undefined, usageGen: 0, byId: new Map(), index: new HashIndex(), signing: new Map() }
}

function parseUsage(text: string, into: UsageTally): void {
  for (const line of text.split('\n')) {
    const m = USAGE_LINE.exec(line)
    if (!m) continue // a torn last line after a crash, or noise: skip it
    addUse(into, { id: m[1]!, version: Number(m[2]), at: new Date(Number(m[3])).toISOString() })
  }
}

/**
 * The embedded keystore: `<dir>/keystore.enc`, one sealed JSON document (AES-256-GCM under the
 * master key, AAD bound to the format and place) written atomically with the previous generation
 * kept as `keystore.enc.prev`, under a cross-process lock.
 *
 * Verification reads through a cache that is reloaded only when the file changes (its inode,
 * size and mtime), and looks keys up in a hash index built at load, so it never scans every key.
 * Usage is recorded by appending short lines (`id version epoch-ms`, no secrets) to
 * `<dir>/usage.log`; `get`/`list` fold those lines in, and the next mutation compacts them into
 * the keystore: the log is renamed to `usage-<gen>.folding`, folded, and the keystore records
 * `usage_gen`, so a crash at any point neither loses nor double-counts a folded record.
 */
export function createFileKeystore(o: FileKeystoreOptions): FileKeystore {
  const paths = keystorePaths(o.dir)
  const { keystore: path } = paths
  const flushAt = o.usageFlushAt ?? 256
  const flushMs = o.usageFlushMs ?? 1000
  let cache: State = { ...emptyState(), stamp: 'not loaded yet' }
  const recheckMs = o.recheckMs ?? 250
  const nowMs = o.nowMs ?? Date.now
  /** When findByHash last looked at the file (0: look now), and this process's write count then. */
  let checkedAt = 0
  let checkedWrites = -1
  let buffer: KeyUsage[] = []
  let timer: NodeJS.Timeout | undefined
  /** Serialises this process's own mutations before they reach the file lock. */
  let chain: Promise<unknown> = Promise.resolve()

  const lock = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(
      () => withFileLock(path, fn, o.lockWaitMs === undefined ? {} : { waitMs: o.lockWaitMs }),
      () => withFileLock(path, fn, o.lockWaitMs === undefined ? {} : { waitMs: o.lockWaitMs }),
    )
    chain = p.catch(() => undefined)
    return p
  }

  const damaged = (e: unknown): never => {
    if (e instanceof AppError && (e.code === 'DECRYPT_FAILED' || e.code === 'STORE_CORRUPT')) {
      // Offer recovery only when a previous generation exists to recover from.
      const recover = existsSync(paths.previous) ? `"apiauth recover" restores the previous generation from ${paths.previous}` : `no previous generation (${paths.previous}) exists to recover from`
      const hint = e.code === 'DECRYPT_FAILED' ? `check APIAUTH_MASTER_KEY (or ${join(o.dir, 'master.key')}); if the file was damaged, ${recover}` : recover
      throw new AppError(e.code, e.message, { hint, cause: e })
    }
    throw fileError(e, path, 'read')
  }

  async function decode(text: string, what: string): Promise<{ doc: KeystoreDoc; kdf: KdfParams }> {
    const { plaintext, kdf } = await openDocument(text, { format: KEYSTORE_FORMAT, place: PLACE, material: o.material, what })
    let doc: KeystoreDoc
    try {
      doc = JSON.parse(plaintext.toString('utf8')) as KeystoreDoc
    } catch {
      throw new AppError('STORE_CORRUPT', `${what} is corrupt (its content is not valid JSON)`)
    }
    if (typeof doc !== 'object' || doc === null || doc.schema !== 1 || !Array.isArray(doc.keys) || typeof doc.usage_gen !== 'number' || typeof doc.signing !== 'object') {
      throw new AppError('STORE_CORRUPT', `${what} is corrupt or from an unsupported version`)
    }
    return { doc, kdf }
  }

  /** The current state, re-read only when the file changed since it was cached. */
  function loadSync(): State | Promise<State> {
    const stamp = stampOf(path)
    if (stamp === cache.stamp) return cache
    return reload(stamp)
  }

  async function reload(stamp: string | undefined): Promise<State> {
    if (stamp === undefined) {
      // No keystore but a previous generation: the file was lost, not never created. Starting
      // an empty store here would silently drop every key.
      if (statSync(paths.previous, { throwIfNoEntry: false })) {
        throw new AppError('STORE_CORRUPT', `${path} is missing but its previous generation ${paths.previous} exists`, { hint: '"apiauth recover" restores it' })
      }
      cache = emptyState()
      return cache
    }
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return reload(stampOf(path))
      throw fileError(e, path, 'read')
    }
    const { doc, kdf } = await decode(text, path).catch(damaged)
    const byId = new Map<string, KeyEntry>()
    for (const e of doc.keys) byId.set(e.id, freezeEntry(e))
    cache = {
      stamp,
      kdf,
      usageGen: doc.usage_gen,
      byId,
      index: HashIndex.of(byId.values()),
      signing: new Map(Object.entries(doc.signing)),
    }
    return cache
  }

  async function persist(s: { kdf: KdfParams | undefined; usageGen: number; byId: Map<string, KeyEntry>; signing: Map<string, string> }): Promise<void> {
    await ensurePrivateDir(o.dir)
    const kdf = s.kdf ?? newKdfParams(o.material, o.random.bytes(16))
    const doc: KeystoreDoc = { schema: 1, usage_gen: s.usageGen, keys: [...s.byId.values()], signing: Object.fromEntries(s.signing) }
    const sealed = await sealDocument({ format: KEYSTORE_FORMAT, place: PLACE, material: o.material, kdf, plaintext: Buffer.from(JSON.stringify(doc)) }, o.random)
    await writeFileAtomic(path, sealed, { keepPrevious: true, what: path })
    bumpLocal(path)
    for (const e of s.byId.values()) freezeEntry(e)
    cache = { stamp: stampOf(path), kdf, usageGen: s.usageGen, byId: s.byId, index: HashIndex.of(s.byId.values()), signing: s.signing }
  }

  async function foldingFiles(): Promise<{ gen: number; file: string }[]> {
    let names: string[]
    try {
      names = await fs.readdir(o.dir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw fileError(e, o.dir, 'read')
    }
    const out: { gen: number; file: string }[] = []
    for (const n of names) {
      const m = FOLDING.exec(n)
      if (m) out.push({ gen: Number(m[1]), file: join(o.dir, n) })
    }
    return out.sort((a, b) => a.gen - b.gen)
  }

  async function readIfExists(file: string): Promise<string> {
    try {
      return await fs.readFile(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ''
      throw fileError(e, file, 'read')
    }
  }

  /** Uses recorded on disk and not yet folded into the keystore of generation `gen`. */
  async function unfolded(gen: number): Promise<UsageTally> {
    const t: UsageTally = new Map()
    for (const f of await foldingFiles()) if (f.gen > gen) parseUsage(await readIfExists(f.file), t)
    parseUsage(await readIfExists(paths.usage), t)
    return t
  }

  async function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer)
      timer = undefined
    }
    if (buffer.length === 0) return
    const lines = buffer.map((u) => `${u.id} ${u.version} ${new Date(u.at).getTime()}\n`).join('')
    buffer = []
    try {
      // O_APPEND: concurrent verifiers never overwrite each other's lines.
      await fs.appendFile(paths.usage, lines, { mode: 0o600 })
    } catch (e) {
      throw new AppError('ADAPTER_FAILED', `cannot record key usage in ${paths.usage}`, { cause: e })
    }
  }

  const repo: KeyRepository = {
    async get(id) {
      await flush()
      const s = await loadSync()
      const e = s.byId.get(id)
      return e ? cloneEntry(withUsage(e, await unfolded(s.usageGen))) : undefined
    },
    async findByHash(hash) {
      const t = nowMs()
      const writes = localWrites.get(path) ?? 0
      let s: State
      if (t - checkedAt < recheckMs && writes === checkedWrites && cache.stamp !== 'not loaded yet') s = cache
      else {
        s = await loadSync()
        checkedAt = t
        checkedWrites = writes
      }
      const hit = s.index.get(hash)
      // Entries in the cache are deeply frozen: the hot path hands them out without copying.
      return hit ? { entry: hit.entry, version: hit.version } : undefined
    },
    async list() {
      await flush()
      const s = await loadSync()
      const t = await unfolded(s.usageGen)
      return [...s.byId.values()].map((e) => cloneEntry(withUsage(e, t)))
    },
    mutate(fn, beforeCommit, mo) {
      return lock(async () => {
        await flush()
        const s = await loadSync()
        const { tx, work } = createWorkingTx(s.byId)
        // The whole store is loaded anyway; declared ids are only enforced (same rules as PostgreSQL).
        const result = await fn(mo?.ids ? onlyIds(tx, mo.ids) : tx)
        if (beforeCommit) await beforeCommit(result)
        // Compact the usage log: rename it out of the way so new appends start a fresh file,
        // then fold every pending generation into the entries written below.
        const pending = await foldingFiles()
        const gen = Math.max(s.usageGen, ...pending.map((f) => f.gen)) + 1
        try {
          await fs.rename(paths.usage, join(o.dir, `usage-${gen}.folding`))
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(e, paths.usage, 'write')
        }
        const tally: UsageTally = new Map()
        for (const f of await foldingFiles()) if (f.gen > s.usageGen) parseUsage(await readIfExists(f.file), tally)
        const byId = new Map<string, KeyEntry>()
        for (const [id, e] of work) byId.set(id, withUsage(e, tally))
        await persist({ kdf: s.kdf, usageGen: gen, byId, signing: s.signing })
        for (const f of await foldingFiles()) if (f.gen <= gen) await fs.rm(f.file, { force: true }).catch(() => undefined)
        return result
      })
    },
    async recordUse(u) {
      buffer.push({ ...u })
      if (buffer.length >= flushAt) await flush()
      else if (!timer) {
        timer = setTimeout(() => void flush().catch(() => undefined), flushMs)
        timer.unref()
      }
    },
    flush,
    async close() {
      await flush()
    },
  }

  const signing: SigningKeyStore = {
    async get(keyId) {
      const s = await loadSync()
      const b = s.signing.get(keyId)
      return b === undefined ? undefined : new Uint8Array(Buffer.from(b, 'base64'))
    },
    async getOrCreate(keyId) {
      const have = await signing.get(keyId)
      if (have) return have
      return lock(async () => {
        const s = await loadSync()
        let b = s.signing.get(keyId)
        if (b === undefined) {
          b = o.random.bytes(32).toString('base64')
          const next = new Map(s.signing)
          next.set(keyId, b)
          await persist({ kdf: s.kdf, usageGen: s.usageGen, byId: s.byId, signing: next })
        }
        return new Uint8Array(Buffer.from(b, 'base64'))
      })
    },
  }

  return {
    repo,
    signing,
    paths,
    exists: () => stampOf(path) !== undefined,
    async check() {
      const s = await loadSync()
      return s.byId.size
    },
    recover(beforeCommit) {
      return lock(async () => {
        const current = await readIfExists(path)
        if (current !== '') {
          const ok = await decode(current, path).then(
            () => true,
            () => false,
          )
          if (ok) throw new AppError('CONFLICT', `${path} opens fine: nothing to recover`)
        }
        const prev = await readIfExists(paths.previous)
        if (prev === '') throw new AppError('NOT_FOUND', `no previous generation to recover from: ${paths.previous} does not exist`)
        const { doc } = await decode(prev, paths.previous).catch((e: unknown) => {
          if (e instanceof AppError && (e.code === 'DECRYPT_FAILED' || e.code === 'STORE_CORRUPT')) {
            throw new AppError(e.code, `${paths.previous} cannot be opened either: ${e.message}`, { hint: 'check APIAUTH_MASTER_KEY', cause: e })
          }
          throw e
        })
        const damagedKeptAs = `${path}.damaged-${Date.now()}`
        const result: RecoverResult = { restoredFrom: paths.previous, damagedKeptAs, keys: doc.keys.length }
        if (beforeCommit) await beforeCommit(result)
        if (current !== '') await fs.copyFile(path, damagedKeptAs).catch((e: unknown) => Promise.reject(fileError(e, damagedKeptAs, 'write')))
        await writeFileAtomic(path, prev, { what: path })
        bumpLocal(path)
        cache = { ...emptyState(), stamp: 'not loaded yet' }
        return result
      })
    },
  }
}

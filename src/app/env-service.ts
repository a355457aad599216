import type { AuditEvent, AuditEventInput, AuditLog, AuditQuery, AuditVerifyResult } from '../core/audit/audit-event.js'
import { last4 } from '../core/audit/mask.js'
import { AppError } from '../core/errors.js'
import type { Clock, Random } from '../core/ports.js'
import type { EnvFileGateway, EnvFileRef, EnvKeyring, LoadedEnvFile, SecretStore } from '../core/env/ports.js'
import { serializeDotenv, toMap, type DotenvDocument, type PairItem } from '../core/env/dotenv-parse.js'
import { encodeValue, setRawValue, setValue, unsetKey } from '../core/env/dotenv-write.js'
import { diffEnvs, type EnvDiff } from '../core/env/diff.js'
import { planSync, planIsEmpty, type ConflictStrategy, type SyncPlan } from '../core/env/sync-plan.js'
import { DEFAULT_LENGTH, generatePassword, generateValue, inferKind, withUrlPassword, isSecretVariable, KIND_LABEL, type SecretKind } from '../core/env/secret-kind.js'
import { decryptValue, encryptValue, isEncryptedValue, valueAad } from '../core/env/value-crypto.js'
import { findEnvironment, type EnvaultConfig, type EnvironmentConfig } from '../config/envault-config.js'

/**
 * The envault use cases: read, diff, sync, set/unset, rotate, encrypt/decrypt, export and the
 * serve reader, over the environments of one `.envault.yml`. Every change is one all-or-nothing
 * write of the files involved, and every change appends its own audit events before the files
 * are replaced: if the audit log cannot be written, nothing changes. Audit details carry at most
 * the last 4 characters of a value (`last4`).
 *
 * The rotation engine uses `openEnvironment` (a SecretStore per environment) and
 * `setInEnvironments` / `restoreValues` (several environments at once, audited).
 *
 * An environment may live in a secret store instead of a file (`prod: { store: pg }`): every use
 * case then goes through the SecretStore port (`deps.stores`), with the same audit events and
 * masking. Changes touching a store go through `writeEnvs`, which explains how a change across
 * files and stores stays all-or-nothing.
 */
export interface EnvServiceDeps {
  config: EnvaultConfig
  audit: Pick<AuditLog, 'append' | 'read' | 'verify'>
  clock: Clock
  random: Random
  actor: string
  keyring: EnvKeyring
  /** Warnings about the files (malformed lines, duplicate keys), by line number, never values. */
  onWarning?: (message: string) => void
  files: EnvFileGateway
  /** Opens the secret store an environment lives in (environments with `store:`). */
  stores?: (env: EnvironmentConfig) => SecretStore
}

/** One environment as `writeEnvs` hands it to a use case: its current values, and how to change them. */
interface EnvView {
  env: EnvironmentConfig
  /** Current values (decrypted), updated as `set`/`unset` are called. */
  values: Map<string, string>
  set(key: string, value: string): Promise<void>
  unset(key: string): void
}

/** The changes decided for one store environment, with its values before them (for undo). */
interface StoreChange {
  env: EnvironmentConfig
  store: SecretStore
  before: Map<string, string>
  set: Record<string, string>
  unset: Set<string>
}

export type Trigger = 'manual' | 'rotation' | 'schedule' | 'serve' | (string & {})

export interface SyncOptions {
  dryRun?: boolean
  strategy?: ConflictStrategy
  allowDelete?: boolean
  skip?: string[]
  trigger?: Trigger
}

export interface SyncResult {
  source: string
  target: string
  plan: SyncPlan
  written: boolean
  strategy: ConflictStrategy
}

export interface RotateOptions {
  key: string
  env?: string
  dryRun?: boolean
  length?: number
  perEnv?: boolean
  force?: boolean
  trigger?: Trigger
}

export interface RotateResult {
  key: string
  kind: SecretKind
  label: string
  /** One value for every environment (false with --per-env, and for URLs, whose other parts differ). */
  shared: boolean
  /** One new secret for every environment (for URLs: the same password inside each URL). */
  sharedPassword: boolean
  targets: { env: string; file: string; value: string }[]
  dryRun: boolean
}

export interface PreviousValue {
  env: string
  /** undefined: the key did not exist there before. */
  value: string | undefined
}

export const MIN_LENGTH = 16
export const MAX_LENGTH = 4096

function fileRef(e: EnvironmentConfig): EnvFileRef {
  return { path: e.path, what: e.envFile }
}

function lastPair(doc: DotenvDocument, key: string): PairItem | undefined {
  for (let i = doc.items.length - 1; i >= 0; i--) {
    const it = doc.items[i]!
    if (it.kind === 'pair' && it.key === key) return it
  }
  return undefined
}

function isEncryptedDoc(doc: DotenvDocument): boolean {
  return doc.items.some((it) => it.kind === 'pair' && isEncryptedValue(it.value))
}

export function createEnvService(d: EnvServiceDeps) {
  const { config } = d
  const project = config.project

  const opened = new Map<string, SecretStore>()
  function storeOf(env: EnvironmentConfig): SecretStore {
    let s = opened.get(env.name)
    if (!s) {
      if (!d.stores) throw new AppError('NOT_CONFIGURED', `${env.name} lives in store ${env.store?.name ?? '?'}, but no secret stores are available here`)
      s = d.stores(env)
      opened.set(env.name, s)
    }
    return s
  }
  /** Where a change happened, for audit details: the file, or the store. */
  const where = (env: EnvironmentConfig): Record<string, string> => (env.store ? { store: env.store.name, ...(env.store.env === env.name ? {} : { store_env: env.store.env }) } : { file: env.envFile })
  const notForStores = (env: EnvironmentConfig, what: string) => {
    if (env.store) throw new AppError('USAGE', `${env.name} lives in ${env.envFile}, which encrypts every value itself; ${what} applies to .env files only`)
  }

  const warn = (f: LoadedEnvFile) => {
    for (const p of f.doc.problems) d.onWarning?.(`${f.what}: ${p.message}`)
  }

  async function plainValue(envName: string, f: LoadedEnvFile, key: string, raw: string): Promise<string> {
    if (!isEncryptedValue(raw)) return raw
    const k = await d.keyring.dataKey()
    return decryptValue(k, raw, valueAad(project, envName, key), `${key} in ${f.what}`)
  }

  /** All variables of a loaded file, decrypted. */
  async function valuesOf(envName: string, f: LoadedEnvFile): Promise<Map<string, string>> {
    const raw = toMap(f.doc)
    let key: Buffer | undefined
    for (const [k, v] of raw) {
      if (!isEncryptedValue(v)) continue
      key ??= await d.keyring.dataKey()
      raw.set(k, decryptValue(key, v, valueAad(project, envName, k), `${k} in ${f.what}`))
    }
    return raw
  }

  async function valueOf(envName: string, f: LoadedEnvFile, key: string): Promise<string | undefined> {
    const it = lastPair(f.doc, key)
    return it === undefined ? undefined : plainValue(envName, f, key, it.value)
  }

  /** Sets a value, encrypting it when the file holds encrypted values. */
  async function put(envName: string, f: LoadedEnvFile, key: string, value: string, encrypted: boolean): Promise<void> {
    if (!encrypted) {
      setValue(f.doc, key, value)
      return
    }
    const k = await d.keyring.dataKey()
    const ct = encryptValue(k, value, valueAad(project, envName, key), d.random)
    setValue(f.doc, key, ct, { raw: (style) => encodeValue(ct, style) })
  }

  async function appendAll(events: AuditEventInput[]): Promise<void> {
    for (const e of events) await d.audit.append({ actor: d.actor, ...e })
  }

  async function load(e: EnvironmentConfig): Promise<LoadedEnvFile> {
    const f = await d.files.read(fileRef(e), { allowMissing: false })
    warn(f)
    return f
  }

  function envOf(name: string): EnvironmentConfig {
    return findEnvironment(config, name)
  }

  function checkLength(n: number | undefined): void {
    if (n === undefined) return
    if (!Number.isInteger(n) || n < MIN_LENGTH || n > MAX_LENGTH) throw new AppError('USAGE', `invalid --length ${n}: use a whole number from ${MIN_LENGTH} to ${MAX_LENGTH}`)
  }

  const detail = (old: string | undefined, neu: string | undefined, trigger: Trigger, extra: Record<string, string | number | boolean | null> = {}) => ({
    old_last4: old === undefined ? null : last4(old),
    new_last4: neu === undefined ? null : last4(neu),
    trigger,
    ...extra,
  })

  async function readValues(name: string): Promise<{ env: EnvironmentConfig; values: Map<string, string>; file: LoadedEnvFile | undefined }> {
    const env = envOf(name)
    if (env.store) return { env, values: await storeOf(env).getAll(), file: undefined }
    const file = await load(env)
    return { env, file, values: await valuesOf(env.name, file) }
  }

  async function storeChange(action: string, storeName: string, key: string, old: string | undefined, neu: string | undefined, trigger: Trigger, change: () => Promise<void>): Promise<void> {
    await d.audit.append({ actor: d.actor, action, target: key, detail: detail(old, neu, trigger, { store: storeName }) })
    try {
      await change()
    } catch (e) {
      await d.audit.append({ actor: d.actor, action, target: key, status: 'failed', detail: { store: storeName, trigger } }).catch(() => undefined)
      throw e
    }
  }

  /** Applies store changes one store at a time (each apply is atomic in its store), recording those done. */
  async function applyStores(changes: StoreChange[], applied: StoreChange[]): Promise<void> {
    for (const ch of changes) {
      await ch.store.apply({ set: ch.set, unset: [...ch.unset] })
      applied.push(ch)
    }
  }

  /** Puts back the previous values of stores already changed, newest first; returns the stores that could not be restored. */
  async function undoStores(applied: StoreChange[]): Promise<string[]> {
    const stuck: string[] = []
    for (const ch of [...applied].reverse()) {
      const set: Record<string, string> = {}
      const unset: string[] = []
      for (const k of [...Object.keys(ch.set), ...ch.unset]) {
        const v = ch.before.get(k)
        if (v === undefined) unset.push(k)
        else set[k] = v
      }
      try {
        await ch.store.apply({ set, unset })
      } catch {
        stuck.push(`${ch.env.name} (${ch.env.envFile})`)
      }
    }
    return stuck
  }

  /**
   * Changes several environments, some of them in secret stores, as one all-or-nothing
   * operation. The order:
   *   1. the .env files involved are locked and read, and the stores are read;
   *   2. `build` decides the changes and their audit events;
   *   3. new file contents go to fsynced temp files (nothing is replaced yet);
   *   4. the audit events are appended: if that fails, nothing has changed;
   *   5. the stores are changed in order, one atomic apply() per store;
   *   6. the files are renamed into place (all-or-nothing among themselves).
   * A store cannot join the files' transaction (nor another store's), so when step 5 or 6 fails,
   * the stores already changed are put back to the values read in step 1, newest first, and a
   * `failed` audit event follows each event of step 4: nothing is left half-written. If putting a
   * store back fails too, the error (PARTIAL_FAILURE) names the environments that need a look.
   * Stores are not locked between steps 1 and 5: a concurrent writer to the same store keys
   * can be overwritten (last writer wins per key), as with any store written by other tools.
   */
  async function writeEnvs<T>(envs: EnvironmentConfig[], build: (views: EnvView[]) => Promise<{ result: T; events: AuditEventInput[] }>): Promise<T> {
    const unique = [...new Map(envs.map((e) => [e.name, e])).values()]
    const fileEnvs = unique.filter((e) => !e.store)
    const applied: StoreChange[] = []
    let events: AuditEventInput[] = []
    let pending: { events: AuditEventInput[]; changes: StoreChange[] } | undefined
    try {
      const result = await d.files.commit<T>(fileEnvs.map(fileRef), async (files) => {
        const views: EnvView[] = []
        const fileStates: { f: LoadedEnvFile; changed: boolean }[] = []
        const storeChanges: StoreChange[] = []
        for (const env of unique) {
          if (env.store) {
            const store = storeOf(env)
            const values = await store.getAll()
            const ch: StoreChange = { env, store, before: new Map(values), set: {}, unset: new Set() }
            storeChanges.push(ch)
            views.push({
              env,
              values,
              set: async (k, v) => {
                values.set(k, v)
                ch.set[k] = v
                ch.unset.delete(k)
              },
              unset: (k) => {
                values.delete(k)
                delete ch.set[k]
                ch.unset.add(k)
              },
            })
          } else {
            const f = files.find((x) => x.path === env.path)!
            warn(f)
            const values = await valuesOf(env.name, f)
            const enc = isEncryptedDoc(f.doc)
            const st = { f, changed: false }
            fileStates.push(st)
            views.push({
              env,
              values,
              set: async (k, v) => {
                await put(env.name, f, k, v, enc)
                values.set(k, v)
                st.changed = true
              },
              unset: (k) => {
                unsetKey(f.doc, k)
                values.delete(k)
                st.changed = true
              },
            })
          }
        }
        const built = await build(views)
        events = built.events
        const changes = storeChanges.filter((c) => Object.keys(c.set).length > 0 || c.unset.size > 0)
        pending = { events: built.events, changes }
        return {
          writes: fileStates.filter((s) => s.changed).map((s) => ({ path: s.f.path, text: serializeDotenv(s.f.doc) })),
          result: built.result,
          beforeCommit: async () => {
            pending = undefined
            await appendAll(built.events)
            await applyStores(changes, applied)
          },
        }
      })
      // No file changed (so the commit had nothing to do): the events and store changes still apply.
      if (pending) {
        const p: { events: AuditEventInput[]; changes: StoreChange[] } = pending
        pending = undefined
        await appendAll(p.events)
        await applyStores(p.changes, applied)
      }
      return result
    } catch (e) {
      if (applied.length === 0) throw e
      const stuck = await undoStores(applied)
      for (const ev of events) {
        await d.audit.append({ actor: d.actor, action: ev.action, target: ev.target, ...(ev.env === undefined ? {} : { env: ev.env }), status: 'failed', detail: { rolled_back: stuck.length === 0 } }).catch(() => undefined)
      }
      if (stuck.length) {
        throw new AppError('PARTIAL_FAILURE', `the change failed part-way and could not be undone in ${stuck.join(', ')}: check those values`, { cause: e })
      }
      throw e
    }
  }

  const svc = {
    config,

    environments(): EnvironmentConfig[] {
      return config.environments
    },

    /** All variables of an environment, decrypted, in file order. */
    async getAll(envName: string): Promise<Map<string, string>> {
      return (await readValues(envName)).values
    },

    async get(key: string, envName: string): Promise<string> {
      const env = envOf(envName)
      const v = env.store ? await storeOf(env).get(key) : await valueOf(env.name, await load(env), key)
      if (v === undefined) throw new AppError('NOT_FOUND', `${key} is not set in ${env.name} (${env.envFile})`)
      return v
    },

    async diff(source: string, target: string): Promise<EnvDiff> {
      const a = await readValues(source)
      const b = await readValues(target)
      return diffEnvs(source, a.values, target, b.values)
    },

    async set(key: string, value: string, envName: string, trigger: Trigger = 'manual'): Promise<{ changed: boolean; created: boolean }> {
      const env = envOf(envName)
      if (env.store) {
        return writeEnvs<{ changed: boolean; created: boolean }>([env], async ([v]) => {
          const old = v!.values.get(key)
          if (old === value) return { result: { changed: false, created: false }, events: [] }
          await v!.set(key, value)
          return { result: { changed: true, created: old === undefined }, events: [{ action: 'secret.set', target: key, env: env.name, detail: detail(old, value, trigger, where(env)) }] }
        })
      }
      return d.files.commit<{ changed: boolean; created: boolean }>([fileRef(env)], async ([f]) => {
        warn(f!)
        const old = await valueOf(env.name, f!, key)
        if (old === value) return { writes: [], result: { changed: false, created: false } }
        await put(env.name, f!, key, value, isEncryptedDoc(f!.doc))
        return {
          writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }],
          result: { changed: true, created: old === undefined },
          beforeCommit: () => appendAll([{ action: 'secret.set', target: key, env: env.name, detail: detail(old, value, trigger, { file: env.envFile }) }]),
        }
      })
    },

    async unset(key: string, envName: string, trigger: Trigger = 'manual'): Promise<{ removed: boolean }> {
      const env = envOf(envName)
      if (env.store) {
        return writeEnvs([env], async ([v]) => {
          const old = v!.values.get(key)
          if (old === undefined) throw new AppError('NOT_FOUND', `${key} is not set in ${env.name} (${env.envFile})`)
          v!.unset(key)
          return { result: { removed: true }, events: [{ action: 'secret.unset', target: key, env: env.name, detail: detail(old, undefined, trigger, where(env)) }] }
        })
      }
      return d.files.commit([fileRef(env)], async ([f]) => {
        warn(f!)
        const old = lastPair(f!.doc, key)
        if (!old) throw new AppError('NOT_FOUND', `${key} is not set in ${env.name} (${env.envFile})`)
        const oldValue = await plainValue(env.name, f!, key, old.value)
        unsetKey(f!.doc, key)
        return {
          writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }],
          result: { removed: true },
          beforeCommit: () => appendAll([{ action: 'secret.unset', target: key, env: env.name, detail: detail(oldValue, undefined, trigger, { file: env.envFile }) }]),
        }
      })
    },

    async sync(source: string, target: string, o: SyncOptions = {}): Promise<SyncResult> {
      if (source === target) throw new AppError('USAGE', `cannot sync ${source} into itself`)
      const tgtEnv = envOf(target)
      const strategy = o.strategy ?? config.conflictStrategy
      const skip = new Set([...config.skipKeys, ...(o.skip ?? [])])
      const trigger = o.trigger ?? 'manual'
      const src = await readValues(source)
      const plan = (tgtValues: Map<string, string>) => {
        const p = planSync(src.values, tgtValues, { strategy, allowDelete: o.allowDelete === true, skip })
        if (p.conflicts.length) {
          throw new AppError('CONFLICT', `sync ${source} → ${target}: ${p.conflicts.length} conflicting key${p.conflicts.length === 1 ? '' : 's'} under strategy "error": ${p.conflicts.join(', ')}; nothing was written`, {
            hint: 'use --strategy source_wins or target_wins, or --skip the keys',
          })
        }
        return p
      }
      if (o.dryRun) {
        const tgt = await readValues(target)
        return { source, target, plan: plan(tgt.values), written: false, strategy }
      }
      const op = `sync_${d.random.bytes(6).toString('hex')}`
      if (tgtEnv.store) {
        return writeEnvs<SyncResult>([tgtEnv], async ([v]) => {
          const p = plan(v!.values)
          if (planIsEmpty(p)) return { result: { source, target, plan: p, written: false, strategy }, events: [] }
          const events: AuditEventInput[] = []
          for (const a of p.add) {
            await v!.set(a.key, a.value)
            events.push({ action: 'secret.sync', target: a.key, env: target, detail: detail(undefined, a.value, trigger, { from: source, change: 'add', op }) })
          }
          for (const u of p.update) {
            await v!.set(u.key, u.to)
            events.push({ action: 'secret.sync', target: u.key, env: target, detail: detail(u.from, u.to, trigger, { from: source, change: 'update', op }) })
          }
          for (const r of p.remove) {
            v!.unset(r.key)
            events.push({ action: 'secret.sync', target: r.key, env: target, detail: detail(r.value, undefined, trigger, { from: source, change: 'delete', op }) })
          }
          return { result: { source, target, plan: p, written: true, strategy }, events }
        })
      }
      return d.files.commit<SyncResult>([fileRef(tgtEnv)], async ([f]) => {
        warn(f!)
        const tgtValues = await valuesOf(target, f!)
        const p = plan(tgtValues)
        if (planIsEmpty(p)) return { writes: [], result: { source, target, plan: p, written: false, strategy } }
        const encrypted = isEncryptedDoc(f!.doc) || (!f!.exists && src.file !== undefined && isEncryptedDoc(src.file.doc))
        const events: AuditEventInput[] = []
        for (const a of p.add) {
          await put(target, f!, a.key, a.value, encrypted)
          events.push({ action: 'secret.sync', target: a.key, env: target, detail: detail(undefined, a.value, trigger, { from: source, change: 'add', op }) })
        }
        for (const u of p.update) {
          await put(target, f!, u.key, u.to, encrypted)
          events.push({ action: 'secret.sync', target: u.key, env: target, detail: detail(u.from, u.to, trigger, { from: source, change: 'update', op }) })
        }
        for (const r of p.remove) {
          unsetKey(f!.doc, r.key)
          events.push({ action: 'secret.sync', target: r.key, env: target, detail: detail(r.value, undefined, trigger, { from: source, change: 'delete', op }) })
        }
        return {
          writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }],
          result: { source, target, plan: p, written: true, strategy },
          beforeCommit: () => appendAll(events),
        }
      })
    },

    async rotate(o: RotateOptions): Promise<RotateResult> {
      checkLength(o.length)
      const trigger = o.trigger ?? 'manual'
      const envs = o.env ? [envOf(o.env)] : config.environments
      // Find where the key lives (without locking: the write below re-reads under the locks).
      const found: { env: EnvironmentConfig; value: string }[] = []
      for (const env of envs) {
        const v = env.store ? await storeOf(env).get(o.key) : await valueOf(env.name, await d.files.read(fileRef(env), { allowMissing: !o.env }), o.key)
        if (v !== undefined) found.push({ env, value: v })
      }
      if (found.length === 0) {
        throw new AppError('NOT_FOUND', o.env ? `${o.key} is not set in ${o.env} (${envs[0]!.envFile})` : `${o.key} is not set in any environment (${envs.map((e) => e.name).join(', ')})`, {
          hint: 'use "envault set" to create it first',
        })
      }
      const kinds = found.map((f) => inferKind(o.key, f.value))
      let kind = kinds[0]!
      if (kinds.includes('url-credentials') && kinds.some((k) => k !== 'url-credentials')) {
        const without = found.filter((_f, i) => kinds[i] !== 'url-credentials').map((f) => f.env.name)
        throw new AppError('CONFLICT', `${o.key} holds a URL with a password in some environments but not in ${without.join(', ')}; nothing was changed`, { hint: 'rotate each environment with --env' })
      }
      if (kind === 'not-secret') {
        if (!o.force) {
          throw new AppError('USAGE', `${o.key} does not look like a secret (a host, port, level, flag or URL without credentials); refusing to rotate it`, { hint: 'pass --force to replace it with 32 random characters' })
        }
        kind = 'generic-secret'
      }
      const perValue = o.perEnv === true
      let targets: RotateResult['targets']
      if (kind === 'url-credentials') {
        // One new password, put inside each environment's own URL (hosts differ), unless --per-env.
        const pw = perValue ? undefined : generatePassword(d.random, o.length ?? DEFAULT_LENGTH[kind])
        targets = found.map((f) => ({ env: f.env.name, file: f.env.envFile, value: withUrlPassword(f.value, pw ?? generatePassword(d.random, o.length ?? DEFAULT_LENGTH[kind])) }))
      } else {
        const shared = perValue ? undefined : generateValue(kind, found[0]!.value, d.random, o.length)
        targets = found.map((f) => ({ env: f.env.name, file: f.env.envFile, value: shared ?? generateValue(kind, f.value, d.random, o.length) }))
      }
      const result: RotateResult = { key: o.key, kind, label: KIND_LABEL[kind], shared: !perValue && kind !== 'url-credentials', sharedPassword: !perValue, targets, dryRun: o.dryRun === true }
      if (o.dryRun) return result
      if (found.some((f) => f.env.store)) {
        return writeEnvs(found.map((f) => f.env), async (views) => {
          const events: AuditEventInput[] = []
          for (const t of targets) {
            const view = views.find((x) => x.env.name === t.env)!
            const env = view.env
            const old = view.values.get(o.key)
            if (old === undefined) throw new AppError('CONFLICT', `${o.key} was removed from ${env.envFile} while rotating; nothing was changed`)
            if (kind === 'url-credentials' && old !== found.find((x) => x.env.name === t.env)?.value) {
              throw new AppError('CONFLICT', `${o.key} changed in ${env.envFile} while rotating; nothing was changed, run it again`)
            }
            await view.set(o.key, t.value)
            events.push({ action: 'secret.rotate', target: o.key, env: env.name, detail: detail(old, t.value, trigger, { kind, ...where(env) }) })
          }
          return { result, events }
        })
      }
      const refs = found.map((f) => fileRef(f.env))
      return d.files.commit(refs, async (files) => {
        const events: AuditEventInput[] = []
        const writes = []
        for (const t of targets) {
          const env = envOf(t.env)
          const f = files.find((x) => x.path === env.path)!
          const old = await valueOf(env.name, f, o.key)
          if (old === undefined) throw new AppError('CONFLICT', `${o.key} was removed from ${env.envFile} while rotating; nothing was changed`)
          if (kind === 'url-credentials' && old !== found.find((x) => x.env.name === t.env)?.value) {
            throw new AppError('CONFLICT', `${o.key} changed in ${env.envFile} while rotating; nothing was changed, run it again`)
          }
          await put(env.name, f, o.key, t.value, isEncryptedDoc(f.doc))
          writes.push({ path: f.path, text: serializeDotenv(f.doc) })
          events.push({ action: 'secret.rotate', target: o.key, env: env.name, detail: detail(old, t.value, trigger, { kind, file: env.envFile }) })
        }
        return { writes, result, beforeCommit: () => appendAll(events) }
      })
    },

    /**
     * Rotates every secret-like variable of one environment in one atomic write. Non-secrets
     * (hosts, ports, levels, flags, URLs without credentials) are left alone.
     */
    async rotateAll(o: { env: string; dryRun?: boolean; length?: number; trigger?: Trigger; onProgress?: (done: number, total: number, key: string) => void }): Promise<{ env: string; file: string; rotated: { key: string; kind: SecretKind; value: string }[]; skipped: string[]; dryRun: boolean }> {
      checkLength(o.length)
      const env = envOf(o.env)
      const trigger = o.trigger ?? 'manual'
      const build = async (values: Map<string, string>) => {
        const rotated: { key: string; kind: SecretKind; value: string; old: string }[] = []
        const skipped: string[] = []
        const candidates = [...values].filter(([k, v]) => isSecretVariable(k, v) && inferKind(k, v) !== 'not-secret')
        for (const k of values.keys()) if (!candidates.some(([c]) => c === k)) skipped.push(k)
        for (const [i, [k, v]] of candidates.entries()) {
          const kind = inferKind(k, v)
          rotated.push({ key: k, kind, old: v, value: generateValue(kind, v, d.random, o.length) })
          o.onProgress?.(i + 1, candidates.length, k)
        }
        return { rotated, skipped }
      }
      if (o.dryRun) {
        const { rotated, skipped } = await build((await readValues(env.name)).values)
        return { env: env.name, file: env.envFile, rotated: rotated.map(({ key, kind, value }) => ({ key, kind, value })), skipped, dryRun: true }
      }
      if (env.store) {
        return writeEnvs([env], async ([v]) => {
          const { rotated, skipped } = await build(new Map(v!.values))
          for (const r of rotated) await v!.set(r.key, r.value)
          return {
            result: { env: env.name, file: env.envFile, rotated: rotated.map(({ key, kind, value }) => ({ key, kind, value })), skipped, dryRun: false },
            events: rotated.map((r) => ({ action: 'secret.rotate', target: r.key, env: env.name, detail: detail(r.old, r.value, trigger, { kind: r.kind, ...where(env), batch: true }) })),
          }
        })
      }
      return d.files.commit([fileRef(env)], async ([f]) => {
        if (!f!.exists) throw new AppError('NOT_FOUND', `${env.envFile} does not exist`)
        warn(f!)
        const { rotated, skipped } = await build(await valuesOf(env.name, f!))
        const encrypted = isEncryptedDoc(f!.doc)
        for (const r of rotated) await put(env.name, f!, r.key, r.value, encrypted)
        const events = rotated.map((r) => ({ action: 'secret.rotate', target: r.key, env: env.name, detail: detail(r.old, r.value, trigger, { kind: r.kind, file: env.envFile, batch: true }) }))
        return {
          writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }],
          result: { env: env.name, file: env.envFile, rotated: rotated.map(({ key, kind, value }) => ({ key, kind, value })), skipped, dryRun: false },
          beforeCommit: () => appendAll(events),
        }
      })
    },

    /** Encrypts every plain value of an environment; values already encrypted keep their ciphertext. */
    async encrypt(envName: string, trigger: Trigger = 'manual'): Promise<{ encrypted: number; unchanged: number }> {
      const env = envOf(envName)
      notForStores(env, 'encrypt')
      return d.files.commit([fileRef(env)], async ([f]) => {
        if (!f!.exists) throw new AppError('NOT_FOUND', `${env.envFile} does not exist`)
        warn(f!)
        const k = await d.keyring.dataKey({ create: true })
        let encrypted = 0
        let unchanged = 0
        for (const it of f!.doc.items) {
          if (it.kind !== 'pair') continue
          if (isEncryptedValue(it.value)) {
            // Check the key opens what is already there before adding more under it.
            decryptValue(k, it.value, valueAad(project, env.name, it.key), `${it.key} in ${env.envFile}`)
            unchanged++
            continue
          }
          const ct = encryptValue(k, it.value, valueAad(project, env.name, it.key), d.random)
          setRawValue(it, encodeValue(ct, it.quote), ct)
          encrypted++
        }
        return {
          writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }],
          result: { encrypted, unchanged },
          beforeCommit: () => appendAll([{ action: 'env.encrypt', target: env.envFile, env: env.name, detail: { encrypted, unchanged, trigger } }]),
        }
      })
    },

    async decrypt(envName: string, trigger: Trigger = 'manual'): Promise<{ decrypted: number }> {
      const env = envOf(envName)
      notForStores(env, 'decrypt')
      return d.files.commit([fileRef(env)], async ([f]) => {
        if (!f!.exists) throw new AppError('NOT_FOUND', `${env.envFile} does not exist`)
        warn(f!)
        let decrypted = 0
        for (const it of f!.doc.items) {
          if (it.kind !== 'pair' || !isEncryptedValue(it.value)) continue
          const plain = await plainValue(env.name, f!, it.key, it.value)
          setRawValue(it, encodeValue(plain, it.quote, { keepDollar: true }), plain)
          decrypted++
        }
        return {
          writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }],
          result: { decrypted },
          beforeCommit: () => appendAll([{ action: 'env.decrypt', target: env.envFile, env: env.name, detail: { decrypted, trigger } }]),
        }
      })
    },

    /** The decrypted values for export; the export itself is audited (names and count only). */
    async exportValues(envName: string, format: string, trigger: Trigger = 'manual'): Promise<Map<string, string>> {
      const { env, values } = await readValues(envName)
      await appendAll([{ action: 'secret.export', target: env.envFile, env: env.name, detail: { format, count: values.size, trigger } }])
      return values
    },

    /**
     * Sets one variable in several environments as one all-or-nothing write, audited per
     * environment. Returns the previous values, for `restoreValues`. `values` gives each
     * environment its own value; otherwise `value` goes everywhere.
     */
    async setInEnvironments(o: { names: string[]; key: string; value?: string; values?: Record<string, string>; trigger?: Trigger }): Promise<{ previous: PreviousValue[] }> {
      const envs = o.names.map(envOf)
      const trigger = o.trigger ?? 'manual'
      const valueFor = (name: string): string => {
        const v = o.values?.[name] ?? o.value
        if (v === undefined) throw new AppError('USAGE', `no value given for ${o.key} in ${name}`)
        return v
      }
      if (envs.some((e) => e.store)) {
        return writeEnvs(envs, async (views) => {
          const previous: PreviousValue[] = []
          const events: AuditEventInput[] = []
          for (const env of envs) {
            const view = views.find((x) => x.env.name === env.name)!
            const old = view.values.get(o.key)
            const v = valueFor(env.name)
            previous.push({ env: env.name, value: old })
            if (old === v) continue
            await view.set(o.key, v)
            events.push({ action: 'secret.set', target: o.key, env: env.name, detail: detail(old, v, trigger, where(env)) })
          }
          return { result: { previous }, events }
        })
      }
      return d.files.commit(envs.map(fileRef), async (files) => {
        const previous: PreviousValue[] = []
        const events: AuditEventInput[] = []
        const writes = []
        for (const env of envs) {
          const f = files.find((x) => x.path === env.path)!
          const old = await valueOf(env.name, f, o.key)
          const v = valueFor(env.name)
          previous.push({ env: env.name, value: old })
          if (old === v) continue
          await put(env.name, f, o.key, v, isEncryptedDoc(f.doc))
          writes.push({ path: f.path, text: serializeDotenv(f.doc) })
          events.push({ action: 'secret.set', target: o.key, env: env.name, detail: detail(old, v, trigger, { file: env.envFile }) })
        }
        return { writes, result: { previous }, beforeCommit: () => appendAll(events) }
      })
    },

    /** Puts back values returned by `setInEnvironments` (removing keys that did not exist), atomically. */
    async restoreValues(o: { key: string; previous: PreviousValue[]; trigger?: Trigger }): Promise<void> {
      const envs = o.previous.map((p) => envOf(p.env))
      const trigger = o.trigger ?? 'rotation'
      if (envs.some((e) => e.store)) {
        await writeEnvs(envs, async (views) => {
          const events: AuditEventInput[] = []
          for (const p of o.previous) {
            const view = views.find((x) => x.env.name === p.env)!
            const cur = view.values.get(o.key)
            if (cur === p.value) continue
            if (p.value === undefined) view.unset(o.key)
            else await view.set(o.key, p.value)
            events.push({ action: 'secret.restore', target: o.key, env: view.env.name, detail: detail(cur, p.value, trigger, where(view.env)) })
          }
          return { result: undefined, events }
        })
        return
      }
      await d.files.commit(envs.map(fileRef), async (files) => {
        const events: AuditEventInput[] = []
        const writes = []
        for (const p of o.previous) {
          const env = envOf(p.env)
          const f = files.find((x) => x.path === env.path)!
          const cur = await valueOf(env.name, f, o.key)
          if (cur === p.value) continue
          if (p.value === undefined) unsetKey(f.doc, o.key)
          else await put(env.name, f, o.key, p.value, isEncryptedDoc(f.doc))
          writes.push({ path: f.path, text: serializeDotenv(f.doc) })
          events.push({ action: 'secret.restore', target: o.key, env: env.name, detail: detail(cur, p.value, trigger, { file: env.envFile }) })
        }
        return { writes, result: undefined, beforeCommit: () => appendAll(events) }
      })
    },

    /**
     * An environment as a SecretStore (storage only, not audited: use setInEnvironments for
     * audited changes). `apply` is one atomic write, read back to check it landed.
     */
    openEnvironment(name: string): SecretStore {
      const env = envOf(name)
      if (env.store) return storeOf(env)
      return {
        kind: 'env-file',
        capabilities: { delete: true, versions: false, list: true },
        async list(prefix?: string) {
          const f = await d.files.read(fileRef(env), { allowMissing: true })
          return [...toMap(f.doc).keys()].filter((k) => prefix === undefined || k.startsWith(prefix))
        },
        async get(key: string) {
          return valueOf(env.name, await d.files.read(fileRef(env), { allowMissing: true }), key)
        },
        async getAll() {
          return valuesOf(env.name, await d.files.read(fileRef(env), { allowMissing: true }))
        },
        async apply(changes) {
          await d.files.commit([fileRef(env)], async ([f]) => {
            const enc = isEncryptedDoc(f!.doc)
            for (const [k, v] of Object.entries(changes.set ?? {})) await put(env.name, f!, k, v, enc)
            for (const k of changes.unset ?? []) unsetKey(f!.doc, k)
            return { writes: [{ path: f!.path, text: serializeDotenv(f!.doc) }], result: undefined }
          })
          const back = await valuesOf(env.name, await d.files.read(fileRef(env), { allowMissing: true }))
          for (const [k, v] of Object.entries(changes.set ?? {})) {
            if (back.get(k) !== v) throw new AppError('VERIFY_FAILED', `${k} did not read back from ${env.envFile} as written`)
          }
          for (const k of changes.unset ?? []) if (back.has(k)) throw new AppError('VERIFY_FAILED', `${k} is still in ${env.envFile} after removal`)
        },
      }
    },

    /**
     * A reader for `serve`: files are re-read when their size, mtime or inode changes (so a value
     * changed on disk is served at once), and each read by name is audited before the value is
     * returned. Reads arriving together share one audit flush (one event per name, with a count).
     */
    secretReader(envName: string, trigger: Trigger = 'serve') {
      const env = envOf(envName)
      let cache: { stamp: string; file: LoadedEnvFile; raw: Map<string, string> } | undefined
      const current = async () => {
        const stamp = await d.files.stamp(fileRef(env))
        if (!cache || cache.stamp !== stamp) {
          const file = await d.files.read(fileRef(env), { allowMissing: false })
          cache = { stamp, file, raw: toMap(file.doc) }
        }
        return cache
      }
      let batch: { names: Map<string, number>; done: Promise<void> } | undefined
      let chain: Promise<void> = Promise.resolve()
      const record = (name: string): Promise<void> => {
        if (!batch) {
          const b: { names: Map<string, number>; done: Promise<void> } = { names: new Map(), done: Promise.resolve() }
          b.done = chain.then(async () => {
            if (batch === b) batch = undefined
            for (const [target, count] of b.names) {
              await d.audit.append({ actor: d.actor, action: 'secret.read', target, env: env.name, detail: { count, trigger } })
            }
          })
          chain = b.done.catch(() => undefined)
          batch = b
        }
        batch.names.set(name, (batch.names.get(name) ?? 0) + 1)
        return batch.done
      }
      if (env.store) {
        // A store is read on every request, so a change made elsewhere is served at once.
        const store = storeOf(env)
        return {
          env: env.name,
          list: (prefix?: string): Promise<string[]> => store.list(prefix),
          async read(name: string): Promise<string | undefined> {
            const v = await store.get(name)
            if (v === undefined) return undefined
            await record(name)
            return v
          },
        }
      }
      return {
        env: env.name,
        async list(prefix?: string): Promise<string[]> {
          const c = await current()
          return [...c.raw.keys()].filter((k) => prefix === undefined || k.startsWith(prefix))
        },
        async read(name: string): Promise<string | undefined> {
          const c = await current()
          const raw = c.raw.get(name)
          if (raw === undefined) return undefined
          const v = await plainValue(env.name, c.file, name, raw)
          await record(name)
          return v
        },
      }
    },

    /** Sets a value in a secret store, audited first (a failed audit write means no change). */
    async storeSet(storeName: string, store: Pick<SecretStore, 'get' | 'apply'>, key: string, value: string, trigger: Trigger = 'manual'): Promise<void> {
      const old = await store.get(key)
      await storeChange('store.set', storeName, key, old, value, trigger, () => store.apply({ set: { [key]: value } }))
    },

    async storeDelete(storeName: string, store: Pick<SecretStore, 'get' | 'apply' | 'capabilities'>, key: string, trigger: Trigger = 'manual'): Promise<void> {
      const old = await store.get(key)
      if (old === undefined) throw new AppError('NOT_FOUND', `${key} is not in store ${storeName}`)
      await storeChange('store.delete', storeName, key, old, undefined, trigger, () => store.apply({ unset: [key] }))
    },

    async auditEvents(q: AuditQuery = {}): Promise<AuditEvent[]> {
      return d.audit.read(q)
    },

    async auditVerify(): Promise<AuditVerifyResult> {
      return d.audit.verify()
    },
  }
  return svc
}

export type EnvService = ReturnType<typeof createEnvService>

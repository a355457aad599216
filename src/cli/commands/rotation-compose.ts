import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { createRotationEngine, type RotationEngine } from '../../app/rotation-engine.js'
import { createScheduler, type Scheduler } from '../../app/scheduler.js'
import { createJsonlAuditLog } from '../../adapters/file/audit-jsonl.js'
import { ensurePrivateDir, readFileIfExists, writeFileAtomic } from '../../adapters/file/atomic-write.js'
import { createFileJournal } from '../../adapters/file/journal-file.js'
import { loadMasterKey } from '../../adapters/file/master-key.js'
import { createNotifiers } from '../../adapters/notifiers/notifiers.js'
import { createApiauthProvider } from '../../adapters/providers/apiauth-provider.js'
import { createCheckRunner } from '../../adapters/providers/checks.js'
import { createCommandProvider } from '../../adapters/providers/command-provider.js'
import { createHttpProvider } from '../../adapters/providers/http-provider.js'
import type { AuditLog } from '../../core/audit/audit-event.js'
import { sha256Hex } from '../../core/crypto/hash.js'
import { AppError } from '../../core/errors.js'
import { parseRotationConfig, type Policy, type ProviderKind, type RotationConfig } from '../../core/rotation/policy.js'
import type { CredentialProvider, RotationJournal, Sealer, TargetStore } from '../../core/rotation/ports.js'
import type { RotationRun } from '../../core/rotation/rotation-state.js'
import { createAeadSealer } from '../../core/rotation/sealer.js'
import type { KeysService } from '../../app/keys-service.js'
import type { KeysHandle } from '../compose-keys.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'

/**
 * The composition root of the rotation commands: finds the policy file (rekey.yml, else the
 * `rotations:` of .envault.yml), opens the project's journal (.rekey/), its audit log
 * (.envault-audit.log, shared with envault), the environments of .envault.yml as targets, the
 * providers the policies name and the notifiers. Nothing else in the rotation code chooses an
 * implementation.
 */
export const POLICY_FILE = 'rekey.yml'
export const ENVAULT_FILE = '.envault.yml'
export const AUDIT_FILE = '.envault-audit.log'
export const STATE_DIR = '.rekey'
export const MASTER_KEY_ENV = 'REKEY_MASTER_KEY'

export interface RotationProject {
  dir: string
  file: string
  config: RotationConfig
  environments: string[] | undefined
  engine: RotationEngine
  scheduler: Scheduler
  journal: RotationJournal
  audit: AuditLog
  /** Where the journal lives, for messages: "<dir>/.rekey", or the database (password hidden). */
  journalPlace: string
  providerFor(p: Policy): CredentialProvider
  targetFor(env: string, p: Policy): Promise<TargetStore>
  policy(name: string): Policy
  close(): Promise<void>
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** Locates the policy file: --config, REKEY_CONFIG, rekey.yml, else .envault.yml, in the working directory. */
export function findPolicyFile(cwd: string, explicit: string | undefined): string {
  if (explicit) return isAbsolute(explicit) ? explicit : resolve(cwd, explicit)
  const own = join(cwd, POLICY_FILE)
  if (existsSync(own)) return own
  const envault = join(cwd, ENVAULT_FILE)
  if (existsSync(envault)) return envault
  throw new AppError('CONFIG_INVALID', `no ${POLICY_FILE} or ${ENVAULT_FILE} in ${cwd}`, { hint: 'create rekey.yml with a rotations: section (see "rekey quickstart"), or pass --config' })
}

async function readYaml(path: string, cacheFile?: string): Promise<unknown> {
  const text = await readFileIfExists(path)
  if (text === undefined) throw new AppError('CONFIG_INVALID', `cannot read ${path}: no such file`)
  // A large policy file (thousands of policies) takes seconds to parse as YAML; its parsed form is
  // kept beside the journal, keyed by the file's hash, so tick's cost stays with the due work.
  const big = cacheFile !== undefined && text.length > 64 * 1024
  const sha = big ? sha256Hex(text) : ''
  if (big) {
    try {
      const c = JSON.parse((await readFileIfExists(cacheFile)) ?? 'null') as { sha?: string; path?: string; doc?: unknown } | null
      if (c?.sha === sha && c.path === path) return c.doc
    } catch {
      // a damaged cache is rebuilt
    }
  }
  const parsed = parseYamlText(text, path)
  if (big) {
    await ensurePrivateDir(dirname(cacheFile))
    await writeFileAtomic(cacheFile, JSON.stringify({ sha, path, doc: parsed })).catch(() => undefined)
  }
  return parsed
}

function parseYamlText(text: string, path: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false })
  if (doc.errors.length > 0) {
    throw new AppError('CONFIG_INVALID', `${basename(path)}: ${doc.errors.map((e) => `line ${(e.linePos?.[0]?.line ?? 0)}: ${e.code}`).join('; ')}`)
  }
  return doc.toJS() as unknown
}

/** Environment names declared in .envault.yml (as a map or a list), without opening the files. */
function environmentNames(doc: unknown): string[] | undefined {
  const envs = (doc as { environments?: unknown } | null)?.environments
  if (Array.isArray(envs)) return envs.map((e) => String((e as { name?: unknown }).name))
  if (envs && typeof envs === 'object') return Object.keys(envs)
  return undefined
}

export interface OpenRotationOptions {
  trigger: 'auto' | 'manual'
  onStep?: (run: RotationRun) => void
  readOnly?: boolean
  /**
   * Where runs, their journal, locks, the due-index and the audit log live. `auto` (the default):
   * PostgreSQL when REKEY_DATABASE_URL (or serve's --database-url) is set, shared by every
   * instance on that database; the project's .rekey/ files otherwise. `file`: always the files
   * (the quickstart).
   */
  backend?: 'auto' | 'file'
  /**
   * Connections to PostgreSQL. Each rotation in progress holds one (its secret's lock) while it
   * runs, so a server rotating several secrets at once needs more than the CLI's default (6).
   */
  dbPoolMax?: number
}

/** The PostgreSQL side of a rotation project (REKEY_DATABASE_URL): journal, audit, sealer, keys. */
interface PgRotationState {
  place: string
  journal: RotationJournal
  audit: AuditLog
  sealer: Sealer
  keys: KeysService
  close(): Promise<void>
}

async function openPgRotationState(ctx: CommandContext, poolMax: number): Promise<PgRotationState> {
  const [{ databaseFromEnv }, { openPgForCommand }, { createPgJournal }, { createKeyringSealer }] = await Promise.all([
    import('../../server/pg-backend.js'),
    import('./server-common.js'),
    import('../../adapters/postgres/journal.js'),
    import('../../adapters/postgres/run-sealer.js'),
  ])
  const db = databaseFromEnv(ctx.opts, ctx.io.env)
  // One connection holds each secret lock for the length of a run step; the others serve queries.
  const pg = await openPgForCommand(ctx, { poolMax })
  const { redactUrl } = await import('../../adapters/postgres/db.js')
  return {
    place: `the database ${redactUrl(db.url)} (schema ${db.schema})`,
    journal: createPgJournal(pg.pool, { instance: `${hostname()}:${process.pid}` }),
    audit: pg.audit,
    sealer: createKeyringSealer(pg.keyring),
    keys: pg.keysService(ctx.actor),
    close: () => pg.close(),
  }
}

export async function openRotationProject(ctx: CommandContext, o: OpenRotationOptions = { trigger: 'manual' }): Promise<RotationProject> {
  const { io, clock, random } = ctx
  const file = findPolicyFile(io.cwd, str(ctx.opts.config) ?? str(io.env.REKEY_CONFIG))
  const dir = dirname(file)
  const doc = await readYaml(file, join(dir, STATE_DIR, 'policy-cache.json'))
  const envaultPath = basename(file) === ENVAULT_FILE ? file : join(dir, ENVAULT_FILE)
  const envaultDoc = envaultPath === file ? doc : existsSync(envaultPath) ? await readYaml(envaultPath) : undefined
  const environments = envaultDoc === undefined ? undefined : environmentNames(envaultDoc)
  const config = parseRotationConfig(doc, basename(file), environments)
  const policies = new Map(config.policies.map((p) => [p.name, p]))

  const stateDir = join(dir, STATE_DIR)
  const databaseUrl = str(ctx.opts.databaseUrl) ?? str(io.env.REKEY_DATABASE_URL)
  const pgState = (o.backend ?? 'auto') === 'auto' && databaseUrl !== undefined ? await openPgRotationState(ctx, o.dbPoolMax ?? 6) : undefined
  const journal = pgState?.journal ?? createFileJournal({ dir: stateDir })
  const audit = pgState?.audit ?? createJsonlAuditLog({ path: join(dir, AUDIT_FILE), clock, actor: ctx.actor })
  let sealerP: Promise<Sealer> | undefined
  const sealer = () =>
    (sealerP ??= pgState ? Promise.resolve(pgState.sealer) : (async () => {
      await ensurePrivateDir(stateDir)
      const material = await loadMasterKey({ envVar: MASTER_KEY_ENV, env: io.env, keyFile: join(stateDir, 'master.key'), create: true })
      return createAeadSealer(material, random)
    })())

  // Targets: the environments of .envault.yml, opened through the envault service (loaded lazily).
  let envaultP: Promise<{ openEnvironment(name: string): TargetStore }> | undefined
  const targetFor = async (env: string, p: Policy): Promise<TargetStore> => {
    if (envaultDoc === undefined) throw new AppError('ENV_NOT_FOUND', `${p.name}: target ${env}: no ${ENVAULT_FILE} beside ${basename(file)} defines environments`)
    envaultP ??= (async () => {
      const { openEnvaultProject } = await import('./env-common.js')
      const project = await openEnvaultProject({ cwd: dir, configPath: envaultPath, env: io.env, actor: ctx.actor, clock, random, onWarning: (m) => ctx.out.note(`warning: ${safe(m)}`) })
      return project.service
    })()
    return (await envaultP).openEnvironment(env)
  }

  const closers: (() => Promise<void>)[] = []
  if (pgState) closers.push(() => pgState.close())
  const keysByDir = new Map<string, Promise<Pick<KeysHandle, 'service'>>>()
  const urlOf = (p: Policy): string => {
    const url = p.options.url ?? (p.options.url_env ? io.env[p.options.url_env] : undefined)
    if (!url) throw new AppError('CONFIG_INVALID', `${p.name}: ${p.options.url_env ? `environment variable ${p.options.url_env} is not set` : 'url is required'}`)
    return url
  }
  const factories: Record<ProviderKind, (p: Policy) => CredentialProvider> = {
    apiauth: (p) => {
      const keyDir = p.options.key_dir ? resolve(dir, p.options.key_dir) : io.env.APIAUTH_KEY_DIR ? resolve(dir, io.env.APIAUTH_KEY_DIR) : join(io.env.HOME ?? dir, '.apiauth')
      let h = pgState ? Promise.resolve({ service: pgState.keys }) : keysByDir.get(keyDir)
      if (!h) {
        const opened = import('../compose-keys.js').then((m) => m.openKeysService({ keyDir, env: io.env, clock, random, actor: ctx.actor, backend: 'file' }))
        // Opened eagerly, awaited on first use: a failure (no master key) surfaces there, not as an unhandled rejection.
        opened.catch(() => undefined)
        keysByDir.set(keyDir, opened)
        closers.push(async () => (await opened).close())
        h = opened
      }
      // The port forwards to the keys service once it is open.
      const keys = {
        get: async (id: string) => (await h).service.get(id),
        rotate: async (id: string, x: { graceMs: number; trigger: 'auto' | 'manual' }) => (await h).service.rotate(id, x),
        revokeVersion: async (id: string, v: number, x: { trigger: 'auto' | 'manual' }) => (await h).service.revokeVersion(id, v, x),
        rollback: async (id: string, x: { trigger: 'auto' | 'manual' }) => (await h).service.rollback(id, x),
        usage: async (id: string) => (await h).service.usage(id),
      }
      return createApiauthProvider({ keys, keyId: p.options.key_id!, clock, graceMs: p.revokeMaxMs + 86_400_000, trigger: o.trigger })
    },
    postgres: (p) => {
      const lazy = import('../../adapters/providers/postgres-provider.js')
      return deferred(lazy.then((m) => m.createPostgresProvider({ adminUrl: urlOf(p), roles: p.options.roles as [string, string], clock })), 'postgres', { dualCredential: true, usage: true, acceptsValue: true })
    },
    mariadb: (p) => {
      const lazy = import('../../adapters/providers/mariadb-provider.js')
      return deferred(lazy.then((m) => m.createMariadbProvider({ adminUrl: urlOf(p), roles: p.options.roles as [string, string], clock, random, ...(p.options.host ? { host: p.options.host } : {}) })), 'mariadb', { dualCredential: true, usage: true, acceptsValue: true })
    },
    redis: (p) => {
      const lazy = import('../../adapters/providers/redis-provider.js')
      return deferred(lazy.then((m) => m.createRedisProvider({ adminUrl: urlOf(p), user: p.options.user! })), 'redis', { dualCredential: true, usage: false, acceptsValue: true })
    },
    http: (p) => {
      const envVar = p.options.signing_secret_env ?? 'REKEY_HTTP_SIGNING_SECRET'
      const signingSecret = io.env[envVar]
      if (!signingSecret) throw new AppError('CONFIG_INVALID', `${p.name}: environment variable ${envVar} (the http provider's signing secret) is not set`)
      return createHttpProvider({ endpoint: p.options.endpoint!, signingSecret, secretName: p.name, clock, ...(p.options.single_credential ? { singleCredential: true } : {}) })
    },
    command: (p) =>
      createCommandProvider({
        secretName: p.name, cwd: dir, env: io.env, create: p.options.create!, revoke: p.options.revoke_command!,
        ...(p.options.test ? { test: p.options.test } : {}), ...(p.options.usage ? { usage: p.options.usage } : {}), ...(p.options.discard ? { discard: p.options.discard } : {}),
        ...(p.options.single_credential ? { singleCredential: true } : {}),
      }),
  }
  const providers = new Map<string, CredentialProvider>()
  const providerFor = (p: Policy): CredentialProvider => {
    let pr = providers.get(p.name)
    if (!pr) {
      pr = factories[p.provider](p)
      providers.set(p.name, pr)
    }
    return pr
  }

  const notifier = createNotifiers(config.notify, {
    resolvePath: (x) => resolve(dir, x),
    stderr: io.stderr,
    onError: (e) => ctx.out.note(`warning: notification not delivered: ${safe(e instanceof Error ? e.message : 'error')}`),
  })
  const sealerPort = {
    seal: async (v: Record<string, string>, place: string) => (await sealer()).seal(v, place),
    open: async (s: string, place: string) => (await sealer()).open(s, place),
  }
  const engine = createRotationEngine({
    journal,
    sealer: sealerPort,
    providerFor,
    targetFor,
    checks: createCheckRunner({ cwd: dir, env: io.env }),
    audit,
    notifier,
    clock,
    random,
    ...(io.env.REKEY_VERIFY_RETRY_MS ? { retryDelayMs: Number(io.env.REKEY_VERIFY_RETRY_MS) } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
  })
  const scheduler = createScheduler({ engine, journal, clock, providerFor, actor: ctx.actor, onProgress: (d, t, l) => (t > 1 ? ctx.out.progress(d, t, l) : undefined) })
  return {
    dir,
    file,
    config,
    environments,
    engine,
    scheduler,
    journal,
    audit,
    journalPlace: pgState?.place ?? stateDir,
    providerFor,
    targetFor,
    policy(name) {
      const p = policies.get(name)
      if (!p) throw new AppError('NOT_FOUND', `no rotation policy named ${name} in ${basename(file)}`, { hint: `policies: ${[...policies.keys()].join(', ') || 'none'}` })
      return p
    },
    async close() {
      for (const p of providers.values()) await p.close?.().catch(() => undefined)
      for (const c of closers) await c().catch(() => undefined)
    },
  }
}

/** A provider whose module (and driver: pg, mysql2, ioredis) is imported on first use. */
function deferred(p: Promise<CredentialProvider>, kind: string, capabilities: CredentialProvider['capabilities']): CredentialProvider {
  p.catch(() => undefined) // reported when first awaited
  let loaded: CredentialProvider | undefined
  const get = async () => (loaded ??= await p)
  return {
    kind,
    capabilities,
    identify: async (v) => (await get()).identify(v),
    create: async (i) => (await get()).create(i),
    test: async (c) => (await get()).test(c),
    promote: async (c, prev) => (await get()).promote(c, prev),
    revoke: async (c) => (await get()).revoke(c),
    reinstate: async (a, b) => (await get()).reinstate(a, b),
    discard: async (i) => (await get()).discard(i),
    usage: async (c) => (await get()).usage(c),
    close: async () => {
      if (loaded) await loaded.close?.()
    },
  }
}

/** Opens the project, runs `fn`, and always closes providers and the keys service. */
export async function withRotationProject<T>(ctx: CommandContext, o: Parameters<typeof openRotationProject>[1], fn: (p: RotationProject) => Promise<T>): Promise<T> {
  const project = await openRotationProject(ctx, o)
  try {
    return await fn(project)
  } finally {
    await project.close()
  }
}

/** A run as shown to users and in --json: everything except the sealed values. */
export function publicRun(run: RotationRun): Omit<RotationRun, 'sealed'> {
  const { sealed: _sealed, ...rest } = run
  return rest
}

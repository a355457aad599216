import { promises as fs } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml'
import { z } from 'zod'
import { AppError } from '../core/errors.js'
import { STRATEGIES, type ConflictStrategy } from '../core/env/sync-plan.js'

/**
 * `.envault.yml`: the project's environments and how they sync. Validated with one zod schema;
 * every problem is reported at once with its line number. Top-level `rotations:` and `notify:`
 * belong to the rotation engine: they are kept untouched in `document`/`raw` for it to read.
 */
export const CONFIG_FILE = '.envault.yml'
export const AUDIT_FILE = '.envault-audit.log'
export const KEY_FILE = '.envault.key'
export const STORE_KINDS = ['local-file', 'postgres', 'vault', 'aws-ssm', 'doppler', '1password'] as const
export type StoreKind = (typeof STORE_KINDS)[number]

/** Top-level keys owned by other parts of rekey, passed through without validation here. */
export const PASSTHROUGH_KEYS = ['rotations', 'notify'] as const

export interface EnvironmentConfig {
  name: string
  /**
   * The file as written in the config (shown to users, e.g. `.env.prod`). For an environment
   * kept in a store, how users know its location: `store:<store name>`.
   */
  envFile: string
  /** Absolute path of the file ('' for an environment kept in a store). */
  path: string
  /**
   * Set when the environment lives in a secret store (`prod: { store: pg }`) instead of a file:
   * the store's name under `stores:` and the environment name inside it (`env:`, default: the
   * environment's own name).
   */
  store?: { name: string; env: string }
}

/** The environment backends `--backend` / `REKEY_ENV_BACKEND` choose between. */
export const ENV_BACKENDS = ['file', 'postgres'] as const
export type EnvBackend = (typeof ENV_BACKENDS)[number]
/** The store name used for environments moved to PostgreSQL by `--backend postgres`. */
export const DEFAULT_PG_STORE = 'postgres'

export interface StoreConfig {
  name: string
  type: StoreKind
  /** The store's other settings, as written. */
  options: Record<string, unknown>
}

export interface EnvaultConfig {
  /** Absolute path of the .envault.yml file. */
  path: string
  /** The project folder (where .envault.yml, the audit log and the key file live). */
  dir: string
  project: string
  environments: EnvironmentConfig[]
  conflictStrategy: ConflictStrategy
  skipKeys: string[]
  stores: StoreConfig[]
  /** The whole parsed document as plain data, including pass-through keys such as `rotations`. */
  raw: Record<string, unknown>
  /** The YAML document (with source positions), for other parts that need line numbers. */
  document: Document
  lineCounter: LineCounter
}

const NAME = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, ".", "_" or "-"')
const FILE = z.string().min(1, 'must name a file')
// An environment is a file (`env_file`) or a store (`store`, with an optional `env` inside it).
const ENV_OBJECT = z
  .object({ env_file: FILE.optional(), store: NAME.optional(), env: NAME.optional() })
  .strict()
  .refine((o) => (o.env_file === undefined) !== (o.store === undefined), 'give either env_file or store, not both')
  .refine((o) => o.env === undefined || o.store !== undefined, '"env" applies to a store environment only')
const ENV_LIST_ITEM = z
  .object({ name: NAME, env_file: FILE.optional(), store: NAME.optional(), env: NAME.optional() })
  .strict()
  .refine((o) => (o.env_file === undefined) !== (o.store === undefined), 'give either env_file or store, not both')
  .refine((o) => o.env === undefined || o.store !== undefined, '"env" applies to a store environment only')

/** How an environment is shown when it lives in a store. */
export function storeLocation(store: string, env: string, name: string): string {
  return env === name ? `store:${store}` : `store:${store}/${env}`
}

const SCHEMA = z
  .object({
    project: NAME,
    environments: z.unknown(),
    conflict_strategy: z.enum(STRATEGIES).default('source_wins'),
    skip_keys: z.array(z.string().min(1)).default([]),
    stores: z.record(NAME, z.looseObject({ type: z.enum(STORE_KINDS) })).default({}),
    rotations: z.unknown().optional(),
    notify: z.unknown().optional(),
  })
  .strict()

interface Problem {
  path: (string | number)[]
  message: string
  key?: string
}

function lineOf(doc: Document, lc: LineCounter, p: Problem): number | undefined {
  const path = [...p.path]
  if (p.key !== undefined) {
    const parent = path.length ? doc.getIn(path, true) : doc.contents
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === p.key)
      const r = (pair?.key as { range?: [number, number, number] } | undefined)?.range
      if (r) return lc.linePos(r[0]).line
    }
  }
  while (true) {
    const node = path.length ? doc.getIn(path, true) : doc.contents
    const r = (node as { range?: [number, number, number] } | null | undefined)?.range
    if (r) return lc.linePos(r[0]).line
    if (path.length === 0) return undefined
    path.pop()
  }
}

function fmtPath(path: (string | number)[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('')
}

/** Parses and validates config text; `path` is the file's absolute path. */
export function parseEnvaultConfig(text: string, path: string): EnvaultConfig {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const shown = path.endsWith(CONFIG_FILE) ? CONFIG_FILE : path
  if (doc.errors.length) {
    const lines = doc.errors.map((e) => `  line ${lc(e.pos[0], lineCounter)}: ${e.message.split('\n')[0] ?? 'YAML syntax error'}`)
    throw new AppError('CONFIG_INVALID', `${shown} is not valid YAML:\n${lines.join('\n')}`)
  }
  const raw = doc.toJS() as unknown
  const problems: Problem[] = []
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AppError('CONFIG_INVALID', `${shown} must be a YAML mapping (project:, environments:, …)`)
  }
  const parsed = SCHEMA.safeParse(raw)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const ipath = issue.path.filter((s): s is string | number => typeof s !== 'symbol')
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) problems.push({ path: ipath, key: k, message: `${fmtPath([...ipath, k])}: unknown key` })
      } else {
        problems.push({ path: ipath, message: `${fmtPath(ipath) || '(top level)'}: ${issue.message}` })
      }
    }
  }
  const environments: EnvironmentConfig[] = []
  const envRaw = (raw as Record<string, unknown>).environments
  const dir = dirname(path)
  const storesRaw = (raw as Record<string, unknown>).stores
  const storeTypes = new Map<string, unknown>(storesRaw && typeof storesRaw === 'object' && !Array.isArray(storesRaw) ? Object.entries(storesRaw as Record<string, unknown>).map(([k, v]) => [k, (v as { type?: unknown } | null)?.type]) : [])
  const addStoreEnv = (name: string, store: string, inner: string | undefined, at: (string | number)[]) => {
    if (environments.some((e) => e.name === name)) problems.push({ path: at, message: `environments: "${name}" is defined twice` })
    if (!storeTypes.has(store)) {
      const known = [...storeTypes.keys()]
      problems.push({ path: [...at, 'store'], message: `environments.${name}.store: unknown store "${store}" (${known.length ? `configured stores: ${known.join(', ')}` : 'no stores: are configured'})` })
    }
    const env = inner ?? name
    // A local-file store is one map, so it can hold one environment; PostgreSQL keeps one per env name.
    const oneMap = storeTypes.get(store) !== 'postgres'
    const clash = environments.find((e) => e.store?.name === store && (oneMap || e.store.env === env))
    if (clash) problems.push({ path: at, message: `environments.${name}: uses the same place in store ${store} as ${clash.name}` })
    environments.push({ name, envFile: storeLocation(store, env, name), path: '', store: { name: store, env } })
  }
  const addEnv = (name: string, file: string, at: (string | number)[]) => {
    if (environments.some((e) => e.name === name)) problems.push({ path: at, message: `environments: "${name}" is defined twice` })
    const abs = isAbsolute(file) ? file : resolve(dir, file)
    const clash = environments.find((e) => e.path === abs)
    if (clash) problems.push({ path: at, message: `environments.${name}: uses the same file as ${clash.name}` })
    environments.push({ name, envFile: file, path: abs })
  }
  if (envRaw === undefined || envRaw === null) {
    problems.push({ path: ['environments'], message: 'environments: required (a map of name: file, or a list of {name, env_file})' })
  } else if (Array.isArray(envRaw)) {
    envRaw.forEach((item, i) => {
      const r = ENV_LIST_ITEM.safeParse(item)
      if (r.success && r.data.store !== undefined) addStoreEnv(r.data.name, r.data.store, r.data.env, ['environments', i])
      else if (r.success) addEnv(r.data.name, r.data.env_file!, ['environments', i])
      else for (const is of r.error.issues) problems.push({ path: ['environments', i, ...is.path.filter((s): s is string | number => typeof s !== 'symbol')], message: `${fmtPath(['environments', i, ...is.path.filter((s): s is string | number => typeof s !== 'symbol')])}: ${is.message}` })
    })
  } else if (typeof envRaw === 'object') {
    for (const [name, v] of Object.entries(envRaw as Record<string, unknown>)) {
      if (!NAME.safeParse(name).success) {
        problems.push({ path: ['environments'], key: name, message: `environments: invalid environment name "${name}" (use letters, digits, ".", "_" or "-")` })
        continue
      }
      if (typeof v === 'string' && v !== '') addEnv(name, v, ['environments', name])
      else {
        const r = ENV_OBJECT.safeParse(v)
        if (r.success && r.data.store !== undefined) addStoreEnv(name, r.data.store, r.data.env, ['environments', name])
        else if (r.success) addEnv(name, r.data.env_file!, ['environments', name])
        else {
          const why = r.error.issues.find((is) => is.code === 'custom' || is.code === 'unrecognized_keys')
          problems.push({ path: ['environments', name], message: `environments.${name}: expected a file name, {env_file: …} or {store: …}${why?.code === 'custom' ? ` (${why.message})` : ''}` })
        }
      }
    }
    if (Object.keys(envRaw).length === 0) problems.push({ path: ['environments'], message: 'environments: define at least one environment' })
  } else {
    problems.push({ path: ['environments'], message: 'environments: expected a map of name: file, or a list of {name, env_file}' })
  }
  if (problems.length) {
    const lines = problems.map((p) => {
      const l = lineOf(doc, lineCounter, p)
      return `  ${l === undefined ? '' : `line ${l}: `}${p.message}`
    })
    throw new AppError('CONFIG_INVALID', `${shown} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`)
  }
  const data = parsed.data!
  return {
    path,
    dir,
    project: data.project,
    environments,
    conflictStrategy: data.conflict_strategy,
    skipKeys: data.skip_keys,
    stores: Object.entries(data.stores).map(([name, s]) => {
      const { type, ...options } = s
      return { name, type, options }
    }),
    raw: raw as Record<string, unknown>,
    document: doc,
    lineCounter,
  }
}

function lc(offset: number, counter: LineCounter): number {
  return counter.linePos(offset).line
}

/** Resolves the config file: `--config`, `ENVAULT_CONFIG`, else `.envault.yml` in the working directory. */
export function configPath(cwd: string, explicit?: string): string {
  return explicit ? resolve(cwd, explicit) : join(cwd, CONFIG_FILE)
}

export async function loadEnvaultConfig(o: { cwd: string; path?: string }): Promise<EnvaultConfig> {
  const path = configPath(o.cwd, o.path)
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AppError('CONFIG_INVALID', `no ${CONFIG_FILE} found at ${path}`, { hint: 'run "envault init <project>" first, or pass --config' })
    }
    throw new AppError('CONFIG_INVALID', `cannot read ${path}`, { cause: e })
  }
  return parseEnvaultConfig(text, path)
}

/**
 * The config with every environment that has no explicit location moved to PostgreSQL (for
 * `--backend postgres` / `REKEY_ENV_BACKEND=postgres`), in the store named `postgres`: the one
 * under `stores:` when it is a postgres store, else one added here. Store environments stay as
 * they are. `file` (the default) changes nothing: REKEY_DATABASE_URL alone never moves a file.
 */
export function withEnvBackend(cfg: EnvaultConfig, backend: EnvBackend): EnvaultConfig {
  if (backend === 'file') return cfg
  const existing = cfg.stores.find((s) => s.name === DEFAULT_PG_STORE)
  if (existing && existing.type !== 'postgres') {
    throw new AppError('CONFIG_INVALID', `--backend postgres needs the store name "${DEFAULT_PG_STORE}", but ${CONFIG_FILE} defines it as a ${existing.type} store`, { hint: `rename that store, or give each environment store: <a postgres store>` })
  }
  const taken = new Set(cfg.environments.filter((e) => e.store?.name === DEFAULT_PG_STORE).map((e) => e.store!.env))
  const environments = cfg.environments.map((e): EnvironmentConfig => {
    if (e.store) return e
    if (taken.has(e.name)) throw new AppError('CONFIG_INVALID', `--backend postgres would put ${e.name} where another environment already lives (store ${DEFAULT_PG_STORE}, env ${e.name})`)
    return { name: e.name, envFile: storeLocation(DEFAULT_PG_STORE, e.name, e.name), path: '', store: { name: DEFAULT_PG_STORE, env: e.name } }
  })
  const stores = existing ? cfg.stores : [...cfg.stores, { name: DEFAULT_PG_STORE, type: 'postgres' as const, options: {} }]
  return { ...cfg, environments, stores }
}

/** `--backend`, else REKEY_ENV_BACKEND, else `file`; anything else is a usage error. */
export function envBackend(flag: unknown, env: Record<string, string | undefined>): EnvBackend {
  const v = typeof flag === 'string' ? flag : env.REKEY_ENV_BACKEND || undefined
  if (v === undefined) return 'file'
  if ((ENV_BACKENDS as readonly string[]).includes(v)) return v as EnvBackend
  throw new AppError('USAGE', `invalid ${typeof flag === 'string' ? '--backend' : 'REKEY_ENV_BACKEND'} "${v.slice(0, 40)}": use ${ENV_BACKENDS.join(' or ')}`)
}

/** The environment by name; an unknown name is an error listing the known ones (never a new file). */
export function findEnvironment(cfg: EnvaultConfig, name: string): EnvironmentConfig {
  const env = cfg.environments.find((e) => e.name === name)
  if (!env) {
    throw new AppError('ENV_NOT_FOUND', `unknown environment "${name}" in ${CONFIG_FILE}`, { hint: `known environments: ${cfg.environments.map((e) => e.name).join(', ')}` })
  }
  return env
}

/** The file `envault init <project>` writes (seed 002). */
export function initConfigText(project: string): string {
  return [
    `project: ${project}`,
    'environments:',
    '  dev: .env.dev',
    '  staging: .env.staging',
    '  prod: .env.prod',
    'conflict_strategy: source_wins',
    'skip_keys:',
    '  - COMMIT_SHA',
    '  - BUILD_NUMBER',
    '',
  ].join('\n')
}

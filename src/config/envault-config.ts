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
export const STORE_KINDS = ['local-file', 'vault', 'aws-ssm', 'doppler', '1password'] as const
export type StoreKind = (typeof STORE_KINDS)[number]

/** Top-level keys owned by other parts of rekey, passed through without validation here. */
export const PASSTHROUGH_KEYS = ['rotations', 'notify'] as const

export interface EnvironmentConfig {
  name: string
  /** The file as written in the config (shown to users, e.g. `.env.prod`). */
  envFile: string
  /** Absolute path of the file. */
  path: string
}

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
const ENV_OBJECT = z.object({ env_file: FILE }).strict()
const ENV_LIST_ITEM = z.object({ name: NAME, env_file: FILE }).strict()

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
      if (r.success) addEnv(r.data.name, r.data.env_file, ['environments', i])
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
        if (r.success) addEnv(name, r.data.env_file, ['environments', name])
        else problems.push({ path: ['environments', name], message: `environments.${name}: expected a file name or {env_file: …}` })
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

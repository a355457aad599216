import { join } from 'node:path'
import { createEnvService, type EnvService } from '../../app/env-service.js'
import { AUDIT_FILE, envBackend, KEY_FILE, loadEnvaultConfig, withEnvBackend, type EnvaultConfig } from '../../config/envault-config.js'
import { createStoreConnections, openStore } from '../../adapters/stores/store-registry.js'
import { createEnvFileGateway, createEnvKeyring, MASTER_KEY_ENV } from '../../adapters/file/env-file-store.js'
import { createJsonlAuditLog } from '../../adapters/file/audit-jsonl.js'
import { loadMasterKey } from '../../adapters/file/master-key.js'
import type { MasterKeyMaterial } from '../../core/crypto/kdf.js'
import type { SecretStore } from '../../core/env/ports.js'
import { AppError } from '../../core/errors.js'
import type { Clock, Random } from '../../core/ports.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'

export interface EnvaultProject {
  config: EnvaultConfig
  service: EnvService
  /** The master key material (for the local-file store), loaded on first use. */
  material: (create?: boolean) => Promise<MasterKeyMaterial>
  /** A store under `stores:` by name (for `envault store …`); `env` picks the environment inside PostgreSQL. */
  store(name: string, env?: string): SecretStore
  /** Closes database connections opened for store environments (a no-op for files). */
  close(): Promise<void>
}

/**
 * Wires an envault project from its .envault.yml: environments in files or in secret stores
 * (`prod: { store: pg }`; with `backend: 'postgres'` every environment without a location of its
 * own goes to PostgreSQL), the project's
 * hash-chained audit log (.envault-audit.log beside the config) and the master key. The rotation
 * engine can call this too (with its own actor and clock).
 */
export async function openEnvaultProject(o: {
  cwd: string
  configPath?: string
  env: Record<string, string | undefined>
  actor: string
  clock: Clock
  random: Random
  onWarning?: (message: string) => void
  /** `file` (default) or `postgres`: where environments without `store:` live (--backend, REKEY_ENV_BACKEND). */
  backend?: unknown
}): Promise<EnvaultProject> {
  const explicit = o.configPath ?? (o.env.ENVAULT_CONFIG || undefined)
  const backend = envBackend(o.backend, o.env)
  const config = withEnvBackend(await loadEnvaultConfig({ cwd: o.cwd, ...(explicit ? { path: explicit } : {}) }), backend)
  const audit = createJsonlAuditLog({ path: join(config.dir, AUDIT_FILE), clock: o.clock, actor: o.actor })
  const keyFile = join(config.dir, KEY_FILE)
  const material = (create = false) => loadMasterKey({ envVar: MASTER_KEY_ENV, env: o.env, keyFile, create })
  const connections = createStoreConnections({ clock: o.clock, random: o.random, actor: o.actor })
  const storeCtx = { config, material: () => material(false), random: o.random, env: o.env, clock: o.clock, connections }
  const service = createEnvService({
    config,
    audit,
    clock: o.clock,
    random: o.random,
    actor: o.actor,
    keyring: createEnvKeyring({ project: config.project, keyFile, env: o.env }),
    files: createEnvFileGateway(),
    stores: (e) => openStore(e.store!.name, { ...storeCtx, material: () => material(true) }, { env: e.store!.env }),
    ...(o.onWarning ? { onWarning: o.onWarning } : {}),
  })
  return { config, service, material, store: (name, env) => openStore(name, storeCtx, env === undefined ? {} : { env }), close: () => connections.close() }
}

export function openFromContext(ctx: CommandContext): Promise<EnvaultProject> {
  return openEnvaultProject({
    cwd: ctx.io.cwd,
    ...(typeof ctx.opts.config === 'string' ? { configPath: ctx.opts.config } : {}),
    env: ctx.io.env,
    actor: ctx.actor,
    clock: ctx.clock,
    random: ctx.random,
    onWarning: (m) => ctx.out.note(`warning: ${safe(m)}`),
    backend: ctx.opts.backend,
  })
}


/** --env, else ENVAULT_ENV, else the only environment; otherwise a usage error listing them. */
export function envName(ctx: CommandContext, config: EnvaultConfig, opts: Record<string, unknown>): string {
  const e = typeof opts.env === 'string' ? opts.env : ctx.io.env.ENVAULT_ENV
  if (e) return e
  if (config.environments.length === 1) return config.environments[0]!.name
  throw new AppError('USAGE', '--env is required', { hint: `environments: ${config.environments.map((x) => x.name).join(', ')}` })
}

export function intOption(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new AppError('USAGE', `invalid ${flag} "${typeof v === 'string' ? v : typeof v}": expected a whole number`)
  return n
}

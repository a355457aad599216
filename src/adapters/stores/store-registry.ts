import { isAbsolute, join } from 'node:path'
import { AppError, isAppError } from '../../core/errors.js'
import type { SecretStore } from '../../core/env/ports.js'
import type { MasterKeyMaterial } from '../../core/crypto/kdf.js'
import type { Clock, Random } from '../../core/ports.js'
import type { EnvaultConfig, StoreConfig, StoreKind } from '../../config/envault-config.js'
import { createLocalFileStore } from './local-file-store.js'
import { createPgStoreConnections, type PgStoreConnections } from './postgres-store.js'

export interface StoreContext {
  config: EnvaultConfig
  material: () => Promise<MasterKeyMaterial>
  random: Random
  /** The process environment (REKEY_DATABASE_URL, REKEY_MASTER_KEY, …) for database-backed stores. */
  env?: Record<string, string | undefined>
  clock?: Clock
  /** Shared database connections; closed by whoever created them (see createStoreConnections). */
  connections?: PgStoreConnections
}

type StoreFactory = (s: StoreConfig, ctx: StoreContext, env: string) => SecretStore

function notYet(kind: string): StoreFactory {
  return (s) => {
    throw new AppError('NOT_CONFIGURED', `store "${s.name}" is a ${kind} store, which is not available in this version of envault; nothing was read or written`, {
      hint: 'only "type: local-file" and "type: postgres" stores work for now (Vault, AWS SSM, Doppler and 1Password come later)',
    })
  }
}

/**
 * A SecretStore that connects on first use (so opening a store costs nothing until it is read),
 * naming the store in every error raised while connecting.
 */
function lazyStore(kind: string, capabilities: SecretStore['capabilities'], open: () => Promise<SecretStore>): SecretStore {
  let p: Promise<SecretStore> | undefined
  const get = () => (p ??= open())
  return {
    kind,
    capabilities,
    list: async (prefix) => (await get()).list(prefix),
    get: async (name) => (await get()).get(name),
    getAll: async () => (await get()).getAll(),
    apply: async (changes) => (await get()).apply(changes),
  }
}

/** Every store kind, so a new kind will not compile until it is wired here. */
const FACTORIES = {
  'local-file': (s, ctx) => {
    const p = typeof s.options.path === 'string' && s.options.path !== '' ? s.options.path : `.envault-store.${s.name}.enc`
    return createLocalFileStore({ name: s.name, path: isAbsolute(p) ? p : join(ctx.config.dir, p), what: p, material: ctx.material, random: ctx.random })
  },
  postgres: (s, ctx, env) => {
    const vars = ctx.env ?? {}
    if (!vars.REKEY_DATABASE_URL) {
      throw new AppError('CONFIG_INVALID', `store "${s.name}" is a postgres store, but REKEY_DATABASE_URL is not set; nothing was read or written`, {
        hint: 'set REKEY_DATABASE_URL=postgres://user@host:5432/db (and REKEY_MASTER_KEY), then run "rekey db migrate" once',
      })
    }
    if (!/^postgres(ql)?:\/\//.test(vars.REKEY_DATABASE_URL)) throw new AppError('CONFIG_INVALID', `store "${s.name}": REKEY_DATABASE_URL must be a postgres:// URL`)
    const connections = ctx.connections
    if (!connections) throw new AppError('INTERNAL', `store "${s.name}": no database connections were provided`)
    return lazyStore('postgres', { delete: true, versions: true, list: true }, async () => {
      try {
        return (await connections.open(s, vars)).secretStore(env)
      } catch (e) {
        if (isAppError(e)) throw new AppError(e.code, `store "${s.name}": ${e.message}`, { cause: e, ...(e.hint ? { hint: e.hint } : {}), retryable: e.retryable })
        throw e
      }
    })
  },
  vault: notYet('HashiCorp Vault'),
  'aws-ssm': notYet('AWS SSM'),
  doppler: notYet('Doppler'),
  '1password': notYet('1Password'),
} satisfies Record<StoreKind, StoreFactory>

/** Database connections for the stores of one command run; `close()` when done. */
export function createStoreConnections(o: { clock: Clock; random: Random; actor: string }): PgStoreConnections {
  return createPgStoreConnections(o)
}

/**
 * Opens a configured store by name; an unknown name or an unavailable kind is a clear error.
 * `env` is the environment inside stores that hold several (PostgreSQL): by default the store's
 * `env:` option, else the store's name.
 */
export function openStore(name: string, ctx: StoreContext, o: { env?: string } = {}): SecretStore {
  const s = ctx.config.stores.find((x) => x.name === name)
  if (!s) {
    const known = ctx.config.stores.map((x) => x.name)
    throw new AppError('NOT_CONFIGURED', `store "${name}" is not configured in .envault.yml`, {
      hint: known.length ? `configured stores: ${known.join(', ')}` : 'add it under stores:, e.g. stores: { local: { type: local-file } }',
    })
  }
  const env = o.env ?? (typeof s.options.env === 'string' && s.options.env !== '' ? s.options.env : s.name)
  return FACTORIES[s.type](s, ctx, env)
}

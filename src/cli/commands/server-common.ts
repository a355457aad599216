import { AppError } from '../../core/errors.js'
import type { MasterKeyMaterial } from '../../core/crypto/kdf.js'
import type { CommandContext } from '../context.js'
import { resolveKeyDir } from '../key-dir.js'
import { databaseFromEnv, masterFromEnv, openPgBackend, type PgBackend } from '../../server/pg-backend.js'

/** The database's master key for a command: flags, REKEY_MASTER_KEY/APIAUTH_MASTER_KEY, else the key directory's master.key. */
export async function commandMasterKey(ctx: CommandContext, opts: Record<string, unknown>): Promise<MasterKeyMaterial> {
  let keyDir: string | undefined
  try {
    keyDir = resolveKeyDir(opts, ctx.io.env, ctx.io.cwd)
  } catch {
    keyDir = undefined
  }
  return masterFromEnv(opts, ctx.io.env, keyDir)
}

/**
 * Opens the PostgreSQL backend for a command: the database from flags or REKEY_DATABASE_URL,
 * the master key from REKEY_MASTER_KEY/APIAUTH_MASTER_KEY or the key directory's master.key.
 */
export async function openPgForCommand(ctx: CommandContext, o: { poolMax?: number } = {}): Promise<PgBackend> {
  const { url, schema } = databaseFromEnv(ctx.opts, ctx.io.env)
  const master = await commandMasterKey(ctx, ctx.opts)
  return openPgBackend({ url, schema, master, clock: ctx.clock, random: ctx.random, actor: ctx.actor, ...(o.poolMax === undefined ? {} : { poolMax: o.poolMax }) })
}

/** Opens the PostgreSQL backend for a command and closes it when `fn` is done. */
export async function withPg<T>(ctx: CommandContext, fn: (b: PgBackend) => Promise<T>): Promise<T> {
  const b = await openPgForCommand(ctx)
  try {
    return await fn(b)
  } finally {
    await b.close()
  }
}

export function requireString(v: unknown, flag: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new AppError('USAGE', `${flag} is required`)
  return v
}

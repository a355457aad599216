import { readFile } from 'node:fs/promises'
import { AppError } from '../../core/errors.js'
import { parseMasterKeyMaterial } from '../../core/crypto/kdf.js'
import type { CommandContext } from '../context.js'
import { commandMasterKey } from './server-common.js'
import { createPgPool } from '../../adapters/postgres/db.js'
import { loadKeyring, rotateMasterKey } from '../../adapters/postgres/keyring.js'
import { createPgAuditLog } from '../../adapters/postgres/audit-log.js'
import { databaseFromEnv } from '../../server/pg-backend.js'

/**
 * `rekey master rotate`: re-wraps the database's data key under a new master key in one
 * transaction. Secret values are not rewritten and running instances keep serving; restart them
 * with the new key at your leisure (they need it only to start).
 */
export async function masterRotateCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const { url, schema } = databaseFromEnv(opts, ctx.io.env)
  const current = await commandMasterKey(ctx, opts)
  let nextText: string | undefined
  let source: string
  if (typeof opts.newKeyFile === 'string') {
    source = opts.newKeyFile
    try {
      nextText = await readFile(opts.newKeyFile, 'utf8')
    } catch (cause) {
      throw new AppError('MASTER_KEY_MISSING', `cannot read the new master key file ${opts.newKeyFile}`, { cause })
    }
  } else {
    source = typeof opts.newKeyEnv === 'string' ? opts.newKeyEnv : 'REKEY_NEW_MASTER_KEY'
    nextText = ctx.io.env[source]
    if (!nextText) throw new AppError('MASTER_KEY_MISSING', `no new master key: set ${source} or pass --new-key-file`)
  }
  const next = parseMasterKeyMaterial(nextText, source)
  if (next.kind === current.kind && (next.kind === 'raw' ? current.kind === 'raw' && next.key.equals(current.key) : current.kind === 'passphrase' && next.passphrase === current.passphrase)) {
    throw new AppError('USAGE', 'the new master key is the same as the current one')
  }
  const pool = createPgPool({ url, schema, max: 2 })
  try {
    const audit = createPgAuditLog(pool, { clock: ctx.clock, actor: ctx.actor })
    // The current key must open the data keys (a clear error otherwise), then audit first: if
    // the event cannot be written, the key is not re-wrapped.
    await loadKeyring(pool, current, ctx.random)
    await audit.append({ action: 'master_key.rotate', target: schema, detail: { source } })
    const r = await rotateMasterKey(pool, { current, next, random: ctx.random })
    if (ctx.out.json) ctx.out.data({ schema, ...r })
    else {
      ctx.out.line(ctx.out.green(`✓ Re-wrapped ${r.rewrapped} data key(s) under the new master key`))
      ctx.out.line('  Running instances keep serving; start new ones with the new master key.')
    }
    return 0
  } finally {
    await pool.end().catch(() => undefined)
  }
}

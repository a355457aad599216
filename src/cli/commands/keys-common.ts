import { AppError, usageError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { readStdin } from '../context.js'
import { openKeysService, type KeysHandle } from '../compose-keys.js'
import { resolveKeyDir } from '../key-dir.js'

/** Opens the keys service for a command and closes it (flushing usage) when `fn` is done. */
export async function withKeys<T>(ctx: CommandContext, fn: (k: KeysHandle) => Promise<T>, o: { readOnly?: boolean } = {}): Promise<T> {
  const keyDir = resolveKeyDir(ctx.opts, ctx.io.env, ctx.io.cwd)
  const k = await openKeysService({ keyDir, env: ctx.io.env, clock: ctx.clock, random: ctx.random, actor: ctx.actor, ...(o.readOnly ? { readOnly: true } : {}) })
  try {
    return await fn(k)
  } finally {
    await k.close().catch((e: unknown) => {
      ctx.out.note(`warning: ${e instanceof AppError ? e.message : 'could not record key usage'}`)
    })
  }
}

/** `--expiry-days`: a positive number of days (decimals allowed), or undefined. */
export function parseExpiryDays(v: unknown): number | undefined {
  if (v === undefined) return undefined
  const s = (typeof v === 'string' ? v : JSON.stringify(v)).trim()
  const n = Number(s)
  if (!/^\d+(\.\d+)?$/.test(s) || !(n > 0) || n > 36_500) {
    throw usageError(`invalid --expiry-days "${s}": use a number of days from 1 to 36500`)
  }
  return n
}

export function parsePositiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined
  const s = (typeof v === 'string' ? v : JSON.stringify(v)).trim()
  if (!/^[1-9]\d{0,9}$/.test(s)) throw usageError(`invalid ${flag} "${s}": use a positive whole number`)
  return Number(s)
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

/** A key argument, or stdin when it is `-` (keeps the key out of the process list and shell history). */
export async function keyArg(ctx: CommandContext, v: string | undefined): Promise<string> {
  if (v === undefined) throw usageError('missing key argument')
  if (v !== '-') return v
  return (await readStdin(ctx.io)).replace(/\r?\n$/, '')
}

/** `2026-01-02T03:04:05.678Z` → `2026-01-02`. */
export function day(iso: string | null): string {
  return iso === null ? 'never' : iso.slice(0, 10)
}

/** ISO time without milliseconds: `2026-01-02T03:04:05Z` (the seeds' format). */
export function isoSeconds(iso: string | null): string {
  return iso === null ? '' : iso.replace(/\.\d{3}Z$/, 'Z')
}

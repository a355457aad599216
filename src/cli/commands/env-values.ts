import { displayValue } from '../../core/env/secret-kind.js'
import { isValidKey } from '../../core/env/dotenv-parse.js'
import { AppError } from '../../core/errors.js'
import { readStdin, type CommandContext } from '../context.js'
import { safe } from '../output.js'
import { envName, openFromContext } from './env-common.js'

function checkKey(key: string): void {
  if (!isValidKey(key)) throw new AppError('USAGE', `invalid variable name "${safe(key)}": use letters, digits and _ (not starting with a digit)`)
}

export async function set(ctx: CommandContext, [key, value]: string[], opts: Record<string, unknown>): Promise<void> {
  checkKey(key!)
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    // "-" reads the value from stdin, keeping it out of shell history (one final newline dropped).
    const v = value === '-' ? (await readStdin(ctx.io)).replace(/\r?\n$/, '') : value!
    const r = await p.service.set(key!, v, env)
    const file = p.config.environments.find((e) => e.name === env)?.envFile ?? ''
    if (ctx.out.json) return ctx.out.data({ key, env, file, changed: r.changed, created: r.created })
    ctx.out.line(r.changed ? `✓ Set ${key} in ${safe(env)} (${safe(file)})` : `✓ ${key} in ${safe(env)} already has this value; nothing changed`)
  } finally {
    await p.close()
  }
}

export async function get(ctx: CommandContext, [key]: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const v = await p.service.get(key!, env)
    if (ctx.out.json) return ctx.out.data({ key, env, value: v })
    // The raw value when piped: `get` exists to print it (VAR=$(envault get KEY --env prod)); on a
    // terminal, control characters are escaped so a value cannot drive the terminal.
    ctx.io.stdout.write((ctx.out.interactive ? safe(v) : v) + '\n')
  } finally {
    await p.close()
  }
}

export async function unset(ctx: CommandContext, [key]: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    await p.service.unset(key!, env)
    const file = p.config.environments.find((e) => e.name === env)?.envFile ?? ''
    if (ctx.out.json) return ctx.out.data({ key, env, file, removed: true })
    ctx.out.line(`✓ Removed ${key} from ${safe(env)} (${safe(file)})`)
  } finally {
    await p.close()
  }
}

export async function list(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const values = await p.service.getAll(env)
    const show = opts.showValues === true
    if (ctx.out.json) return ctx.out.data({ env, variables: [...values].map(([key, value]) => ({ key, value: displayValue(key, value, show) })) })
    for (const [k, v] of values) ctx.out.line(`${k}=${safe(displayValue(k, v, show))}`)
  } finally {
    await p.close()
  }
}

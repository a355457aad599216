import { AppError } from '../../core/errors.js'
import { readStdin, type CommandContext } from '../context.js'
import { safe } from '../output.js'
import { openFromContext, type EnvaultProject } from './env-common.js'

function storeOf(_ctx: CommandContext, p: EnvaultProject, name: string) {
  return p.store(name)
}

export async function storeList(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const names = typeof opts.store === 'string' ? [opts.store] : p.config.stores.map((s) => s.name)
    if (names.length === 0) throw new AppError('NOT_CONFIGURED', 'no stores are configured in .envault.yml', { hint: 'add one under stores:, e.g. stores: { local: { type: local-file } }' })
    const prefix = typeof opts.prefix === 'string' ? opts.prefix : undefined
    const out: { store: string; keys: string[] }[] = []
    for (const n of names) out.push({ store: n, keys: await storeOf(ctx, p, n).list(prefix) })
    if (ctx.out.json) return ctx.out.data(out)
    for (const s of out) {
      ctx.out.line(`${safe(s.store)}:`)
      if (s.keys.length === 0) ctx.out.line('  (none)')
      for (const k of s.keys) ctx.out.line(`  ${safe(k)}`)
    }
  } finally {
    await p.close()
  }
}

export async function storeGet(ctx: CommandContext, [key]: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const name = String(opts.store)
    const v = await storeOf(ctx, p, name).get(key!)
    if (v === undefined) throw new AppError('NOT_FOUND', `${key} is not in store ${name}`)
    if (ctx.out.json) return ctx.out.data({ store: name, key, value: v })
    ctx.io.stdout.write(v + '\n')
  } finally {
    await p.close()
  }
}

export async function storeSet(ctx: CommandContext, [key, value]: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const name = String(opts.store)
    const store = storeOf(ctx, p, name)
    const v = value === '-' ? (await readStdin(ctx.io)).replace(/\r?\n$/, '') : value!
    await p.material(true) // first use of a local store creates the project key file
    await p.service.storeSet(name, store, key!, v)
    if (ctx.out.json) return ctx.out.data({ store: name, key, set: true })
    ctx.out.line(`✓ Set ${safe(key!)} in store ${safe(name)}`)
  } finally {
    await p.close()
  }
}

export async function storeDelete(ctx: CommandContext, [key]: string[], opts: Record<string, unknown>): Promise<void> {
  const p = await openFromContext(ctx)
  try {
    const name = String(opts.store)
    await p.service.storeDelete(name, storeOf(ctx, p, name), key!)
    if (ctx.out.json) return ctx.out.data({ store: name, key, deleted: true })
    ctx.out.line(`✓ Deleted ${safe(key!)} from store ${safe(name)}`)
  } finally {
    await p.close()
  }
}

import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { AppError } from '../../core/errors.js'
import type { KeyEntry } from '../../core/keys/key-entry.js'
import { assertText, parseDotenv, toMap } from '../../core/env/dotenv-parse.js'
import { isEncryptedValue } from '../../core/env/value-crypto.js'
import type { CommandContext } from '../context.js'
import { resolveKeyDir } from '../key-dir.js'
import { safe } from '../output.js'
import { openKeysService, keyDirFiles } from '../compose-keys.js'
import { withPg } from './server-common.js'

const ENV_RE = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * `rekey db import`: copies the file backend into PostgreSQL. Keys keep their ids, versions,
 * hashes, grace windows and usage, so every issued key verifies the same after the move; JWT
 * signing secrets move sealed. Env files become environments (values sealed with the data key).
 * Re-running is safe: keys already present are left as they are, values are set again only
 * when they differ.
 */
export async function dbImportCommand(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<number> {
  const envFiles: { env: string; path: string }[] = []
  for (const spec of (opts.dotenv as string[] | undefined) ?? []) {
    const i = spec.indexOf('=')
    const env = spec.slice(0, i)
    if (i <= 0 || !ENV_RE.test(env)) throw new AppError('USAGE', `invalid --dotenv "${safe(spec.slice(0, 80))}": use ENV=path`)
    const p = spec.slice(i + 1)
    envFiles.push({ env, path: isAbsolute(p) ? p : resolve(ctx.io.cwd, p) })
  }
  if (typeof opts.config === 'string') {
    const { loadEnvaultConfig } = await import('../../config/envault-config.js')
    const cfg = await loadEnvaultConfig({ cwd: ctx.io.cwd, path: opts.config })
    for (const e of cfg.environments) envFiles.push({ env: e.name, path: e.path })
  }
  // Read and check every file before touching the database: nothing is half-imported.
  const envs: { env: string; path: string; values: Map<string, string> }[] = []
  for (const f of envFiles) {
    let buf: Buffer
    try {
      buf = await readFile(f.path)
    } catch (cause) {
      throw new AppError('NOT_FOUND', `cannot read ${f.path} (environment ${f.env})`, { cause })
    }
    const values = toMap(parseDotenv(assertText(buf, f.path)))
    const enc = [...values].find(([, v]) => isEncryptedValue(v))
    if (enc) throw new AppError('USAGE', `${f.path} holds encrypted values (${enc[0]}): run "envault decrypt --env ${f.env}" first, or import from a decrypted copy`)
    envs.push({ ...f, values })
  }

  let keys: KeyEntry[] = []
  let signing = new Map<string, Uint8Array>()
  const importKeys = opts.keys !== false
  if (importKeys) {
    const keyDir = resolveKeyDir(opts, ctx.io.env, ctx.io.cwd)
    if (existsSync(keyDirFiles(keyDir).keystore)) {
      const k = await openKeysService({ keyDir, env: ctx.io.env, clock: ctx.clock, random: ctx.random, actor: ctx.actor, readOnly: true, backend: 'file' })
      try {
        const store = k.store
        if (!store) throw new Error('db import reads the file keystore')
        keys = await store.repo.list()
        signing = new Map()
        for (const e of keys) {
          if (e.type !== 'jwt') continue
          const s = await store.signing.get(e.id)
          if (s) signing.set(e.id, s)
        }
      } finally {
        await k.close()
      }
    }
  }

  return withPg(ctx, async (b) => {
    let added = 0
    if (keys.length) {
      for (const [id, s] of signing) await b.signing.put(id, s)
      added = await b.repo.mutate(
        (tx) => {
          let n = 0
          for (const e of keys) {
            if (tx.has(e.id)) continue
            tx.put({ ...e, versions: e.versions.map((v) => ({ ...v, last_used_at: null, use_count: 0 })) })
            n++
          }
          return n
        },
        async (n) => {
          await b.audit.append({ action: 'db.import', target: 'api_keys', detail: { keys: n } })
        },
      )
      // Usage moves as counts, so the idle gate of a rotation in progress keeps its history.
      const uses = keys.flatMap((e) => e.versions.filter((v) => v.last_used_at !== null).map((v) => ({ id: e.id, version: v.version, at: v.last_used_at!, count: v.use_count })))
      if (added > 0) await b.repo.recordUseBatch(uses)
    }
    const envResults: { env: string; set: number; unchanged: number }[] = []
    for (const e of envs) {
      const store = b.secretStore(e.env)
      const current = await store.getAll()
      const set: Record<string, string> = {}
      for (const [k, v] of e.values) if (current.get(k) !== v) set[k] = v
      const n = Object.keys(set).length
      if (n > 0) {
        await b.audit.append({ action: 'db.import', target: e.env, env: e.env, detail: { variables: n, file: e.path.split('/').pop() ?? '' } })
        await store.apply({ set })
      }
      envResults.push({ env: e.env, set: n, unchanged: e.values.size - n })
    }
    if (ctx.out.json) ctx.out.data({ keys: { found: keys.length, imported: added }, environments: envResults })
    else {
      if (importKeys) ctx.out.line(`✓ Imported ${added} key(s) (${keys.length - added} already present)`)
      for (const r of envResults) ctx.out.line(`✓ Imported ${r.set} variable(s) into ${safe(r.env)} (${r.unchanged} unchanged)`)
    }
    return 0
  })
}

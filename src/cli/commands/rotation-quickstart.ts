import { promises as fs } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { ensurePrivateDir, writeFileAtomic } from '../../adapters/file/atomic-write.js'
import { last4 } from '../../core/audit/mask.js'
import { AppError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'
import { openKeysService, type KeysHandle } from '../compose-keys.js'
import { withRotationProject } from './rotation-compose.js'

const SECRET = 'DEMO_API_KEY'

/**
 * A local HTTP service that accepts the demo key: GET /health with `Authorization: Bearer <key>`
 * answers 200 when the keys service verifies the key (current version, or previous one in its
 * grace window), 401 otherwise. Usage is flushed after each call so the rotation engine's idle
 * gate sees it.
 */
async function startDemoService(keys: KeysHandle): Promise<{ url: string; server: Server; call(key: string): Promise<number> }> {
  const server = createServer((req, res) => {
    const auth = String(req.headers.authorization ?? '')
    const key = auth.startsWith('Bearer ') ? auth.slice(7) : ''
    void (async () => {
      const r = req.url === '/health' && key ? await keys.service.verify(key) : { status: 'INVALID' as const }
      if (r.status === 'VALID') await keys.service.close()
      res.writeHead(r.status === 'VALID' ? 200 : 401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: r.status === 'VALID' }))
    })().catch(() => {
      res.writeHead(500)
      res.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    server,
    async call(key) {
      const res = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${key}` } })
      await res.arrayBuffer()
      return res.status
    },
  }
}

/** `rekey quickstart [dir]`: the main job end to end on the embedded default, in a folder it creates. */
export async function quickstartCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const dir = resolve(ctx.io.cwd, args[0] ?? 'rekey-quickstart')
  const entries = await fs.readdir(dir).catch(() => undefined)
  if (entries !== undefined && entries.length > 0) throw new AppError('ALREADY_EXISTS', `${dir} already exists and is not empty; choose another folder`)
  const o = ctx.out
  const step = (i: number, label: string) => o.progress(i, 6, label)
  await ensurePrivateDir(dir)

  // 1. A key in a key directory inside the folder.
  step(1, 'creating an apiauth key')
  const keyDir = join(dir, 'keys')
  // The embedded file backend, even when REKEY_DATABASE_URL is set: the quickstart is self-contained.
  const keys = await openKeysService({ keyDir, env: { ...ctx.io.env, APIAUTH_MASTER_KEY: undefined }, clock: ctx.clock, random: ctx.random, actor: ctx.actor, backend: 'file' })
  let service: Awaited<ReturnType<typeof startDemoService>> | undefined
  try {
    const { entry, key } = await keys.service.generateApiKey({ name: 'demo', service: 'quickstart' })

    // 2. Sample environments holding the key.
    step(2, 'writing dev, staging and prod env files')
    await writeFileAtomic(join(dir, '.envault.yml'), ['project: quickstart', 'environments:', '  dev: .env.dev', '  staging: .env.staging', '  prod: .env.prod', 'conflict_strategy: source_wins', ''].join('\n'))
    for (const [env, level] of [['dev', 'debug'], ['staging', 'info'], ['prod', 'warn']] as const) {
      await writeFileAtomic(join(dir, `.env.${env}`), `# ${env} environment (quickstart)\nAPP_ENV=${env}\nLOG_LEVEL=${level}\n${SECRET}=${key}\n`)
    }

    // 3. A local service that accepts the key.
    step(3, 'starting a local service that accepts the key')
    service = await startDemoService(keys)
    if ((await service.call(key)) !== 200) throw new AppError('INTERNAL', 'the demo service does not accept the new key')

    // 4. One policy.
    step(4, 'writing the rotation policy (rekey.yml)')
    const policy = [
      'rotations:',
      `  ${SECRET}:`,
      '    provider: apiauth',
      `    key_id: ${entry.id}`,
      '    key_dir: keys',
      '    targets: [staging, prod, dev]',
      '    schedule: every 30d',
      '    notice: 7d',
      '    grace: "0"          # demo: no grace period; use 24h in real life',
      '    revoke: { idle: "0", max: 1d }',
      '    used_by: [demo-service]',
      '    verify:',
      `      - http: { url: "${service.url}/health", headers: { Authorization: "Bearer {{value}}" }, expect: 200 }`,
      '      - provider: true',
      'notify:',
      '  - log: .rekey/notifications.log',
      '',
    ].join('\n')
    await writeFileAtomic(join(dir, 'rekey.yml'), policy)

    // 5. One full rotation: create, stage into 3 environments, verify against the service,
    // promote; then a consumer uses the new key, the old one is idle, and it is revoked.
    step(5, 'rotating DEMO_API_KEY')
    // The demo's own files only: no master key or policy file from the caller's environment.
    const sub: CommandContext = { ...ctx, io: { ...ctx.io, cwd: dir, env: { ...ctx.io.env, APIAUTH_MASTER_KEY: undefined, APIAUTH_KEY_DIR: undefined, REKEY_CONFIG: undefined } }, opts: { ...ctx.opts, config: undefined } }
    const result = await withRotationProject(sub, { trigger: 'manual', backend: 'file' }, async (project) => {
      const p = project.policy(SECRET)
      const first = await project.engine.rotate(p, { trigger: 'manual', actor: ctx.actor })
      if (first.run.state !== 'draining' && first.run.state !== 'done') throw new AppError('ROLLED_BACK', `${SECRET}: ${first.run.error ?? first.run.state} (run ${first.run.id})`)
      const newValue = await (await project.targetFor('prod', p)).get(p.variable)
      const newStatus = await service!.call(newValue!)
      const end = first.run.state === 'done' ? first : await project.engine.resume(p, first.run.id)
      const oldStatus = await service!.call(key)
      const events = await project.audit.read()
      return { run: end.run, newStatus, oldStatus, events, newLast4: last4(newValue!) }
    })
    step(6, 'done')
    if ((ctx.io.env.REKEY_DATABASE_URL ?? '') !== '') o.note('note: this demo ran on the embedded file backend although REKEY_DATABASE_URL is set; unset it to look at the demo with rekey status/history')

    const timeline = result.events.map((e) => ({ ts: e.ts, action: e.action, target: e.target, env: e.env ?? null, status: e.status, old_last4: e.detail.old_last4 ?? null, new_last4: e.detail.new_last4 ?? null }))
    if (o.json) {
      o.data({ dir, key_id: entry.id, service_url: service.url, run: result.run.id, state: result.run.state, new_key_accepted: result.newStatus === 200, old_key_rejected: result.oldStatus === 401, timeline })
      return
    }
    o.line(`${o.green('✓')} Quickstart project in ${safe(dir)}`)
    o.line(`  apiauth key ${entry.id} (${last4(key)}) in ${safe(keyDir)}`)
    o.line(`  environments: dev, staging, prod (.env.dev, .env.staging, .env.prod) holding ${SECRET}`)
    o.line(`  local service ${service.url}/health accepting the key (verified through the keys service)`)
    o.line(`  policy: rekey.yml`)
    o.line(`${o.green('✓')} Rotated ${SECRET} (run ${result.run.id}): ${result.run.state}`)
    o.line(`  new key ${result.newLast4}: service says ${result.newStatus}; old key ${last4(key)}: service says ${result.oldStatus}`)
    o.line('')
    o.line('Audit timeline (.envault-audit.log):')
    for (const t of timeline) {
      const masks = t.old_last4 || t.new_last4 ? `  ${String(t.old_last4 ?? '-')} → ${String(t.new_last4 ?? '-')}` : ''
      o.line(`  ${t.ts}  ${t.action.padEnd(17)} ${safe(t.target)}${t.env ? ` env=${safe(t.env)}` : ''}  ${t.status}${masks}`)
    }
    o.line('')
    o.line(`Next: cd ${safe(dir)} && rekey status; rekey history ${SECRET}; rekey audit verify -d keys`)
  } finally {
    await new Promise<void>((r) => (service ? service.server.close(() => r()) : r()))
    await keys.close().catch(() => undefined)
  }
}

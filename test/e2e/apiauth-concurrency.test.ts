import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DIST, spawnBin } from '../helpers/cli.js'
import { sandbox } from './apiauth-helpers.js'

describe('apiauth under concurrency and crashes', () => {
  it('twenty concurrent generate processes leave twenty keys, an openable store and an unbroken audit chain', async () => {
    const sb = sandbox()
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => spawnBin('apiauth', ['generate', 'api-key', '--name', `k${i}`, '--service', 'svc', '--json'], { env: sb.env, timeoutMs: 60_000 })),
    )
    for (const r of runs) expect(r.code, r.stderr).toBe(0)
    const keys = runs.map((r) => JSON.parse(r.stdout) as { id: string; key: string })
    expect(new Set(keys.map((k) => k.id)).size).toBe(20)
    const list = await spawnBin('apiauth', ['list', '--json'], { env: sb.env })
    expect(list.code).toBe(0)
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(20)
    for (const k of keys.slice(0, 3)) expect((await spawnBin('apiauth', ['verify', k.key], { env: sb.env })).code).toBe(0)
    const audit = await spawnBin('rekey', ['audit', 'verify', '--json'], { env: sb.env })
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true, logs: [{ ok: true, count: 20 }] })
  })

  it('a process killed (SIGKILL) in the middle of a write leaves a store that opens, with the old or the new content', async () => {
    const sb = sandbox()
    // A store big enough that each write takes a while, then a process rotating in a loop.
    const script = `
      const { openKeysService, systemClock, systemRandom } = await import(${JSON.stringify(join(DIST, 'index.js'))})
      const k = await openKeysService({ keyDir: process.env.KEY_DIR, env: process.env, clock: systemClock, random: systemRandom, actor: 'loop' })
      const { entry } = await k.service.generateApiKey({ name: 'target', service: 'svc' })
      await k.store.repo.mutate((tx) => {
        for (let i = 0; i < 3000; i++) {
          const h = (i.toString(16).padStart(8, '0') + 'f'.repeat(56))
          tx.put({ ...entry, id: (i + 0x100000000).toString(16).slice(-12).padStart(12, 'a'), name: 'filler', key_hash: h, versions: [{ ...entry.versions[0], key_hash: h }] })
        }
      })
      process.stdout.write('id ' + entry.id + '\\n')
      for (let n = 1; ; n++) {
        // A rename per round; the marker is printed after the audit hook, i.e. while the
        // store is being sealed and written under the lock.
        await k.store.repo.mutate(
          (tx) => tx.put({ ...tx.get(entry.id), name: 'round ' + n }),
          async () => void process.stdout.write('w ' + n + '\\n'),
        )
      }
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...sb.env, KEY_DIR: sb.keyDir }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        // Kill inside the fifth write.
        if (/^w 5$/m.test(out)) {
          child.kill('SIGKILL')
          resolve()
        }
      })
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`loop exited ${code}: ${err}`))))
    })
    await new Promise((r) => child.on('close', r))
    const id = /^id (\w+)/m.exec(out)![1]!
    const show = await spawnBin('apiauth', ['show', id, '--json'], { env: sb.env })
    expect(show.code, show.stderr).toBe(0)
    expect(['round 4', 'round 5']).toContain((JSON.parse(show.stdout) as { name: string }).name)
    const version = (JSON.parse(show.stdout) as { version: number }).version
    expect((await spawnBin('apiauth', ['stats', '--json'], { env: sb.env })).code).toBe(0)
    // The next command takes the (stale) lock over and writes normally.
    const rot = await spawnBin('apiauth', ['rotate', id], { env: sb.env, timeoutMs: 60_000 })
    expect(rot.code, rot.stderr).toBe(0)
    expect(rot.stdout).toContain(`(v${version + 1})`)
    expect(readdirSync(sb.keyDir)).toContain('keystore.enc')
  })
})

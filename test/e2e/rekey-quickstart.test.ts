import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DIST, spawnBin, tempDir } from '../helpers/cli.js'
import { writeProject } from './rekey-helpers.js'

describe('rekey quickstart', () => {
  it('creates a project, rotates the key against a local service and prints the audit timeline', async () => {
    const cwd = tempDir()
    // a master key or key dir of the caller's own apiauth must not leak into the demo
    const r = await spawnBin('rekey', ['quickstart', 'demo'], { cwd, env: { REKEY_ACTOR: 'newcomer', APIAUTH_MASTER_KEY: '9'.repeat(64), APIAUTH_KEY_DIR: '/nonexistent' } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^✓ Rotated DEMO_API_KEY \(run rot_[0-9a-f]{16}\): done$/m)
    expect(r.stdout).toMatch(/new key …[\w-]{4}: service says 200; old key …[\w-]{4}: service says 401/)
    expect(r.stdout).toContain('Audit timeline (.envault-audit.log):')
    for (const a of ['rotation.start', 'rotation.stage', 'rotation.verify', 'rotation.promote', 'rotation.revoke']) expect(r.stdout).toContain(a)
    const dir = join(cwd, 'demo')
    for (const f of ['.env.dev', '.env.staging', '.env.prod', 'rekey.yml', '.envault.yml', 'keys']) expect(existsSync(join(dir, f))).toBe(true)
    expect(statSync(join(dir, '.rekey')).mode & 0o777).toBe(0o700)
    const key = /^DEMO_API_KEY=(.+)$/m.exec(readFileSync(join(dir, '.env.prod'), 'utf8'))![1]!
    expect(r.stdout).not.toContain(key)
    const status = JSON.parse((await spawnBin('rekey', ['status', '--json'], { cwd: dir })).stdout)
    expect(status.secrets[0]).toMatchObject({ secret: 'DEMO_API_KEY', targets_in_sync: '3/3', last_result: 'succeeded' })
    expect((await spawnBin('rekey', ['audit', 'verify'], { cwd: dir })).code).toBe(0)
    const again = await spawnBin('rekey', ['quickstart', 'demo'], { cwd })
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already exists and is not empty')
  })

  it('--json gives the run, the checks and the timeline', async () => {
    const cwd = tempDir()
    const r = await spawnBin('rekey', ['quickstart', 'q', '--json'], { cwd })
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ state: 'done', new_key_accepted: true, old_key_rejected: true })
    expect((j.timeline as { action: string }[]).map((e) => e.action)).toContain('rotation.revoke')
  })
})

describe('rekey daemon', () => {
  it('ticks, then stops cleanly on SIGTERM', async () => {
    const dir = tempDir()
    writeProject(dir, { secret: 'T', initial: 'initial-value-for-daemon-0001' })
    const child = spawn(process.execPath, [join(DIST, 'cli', 'rekey.js'), 'daemon', '--interval', '1s'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, REKEY_MASTER_KEY: 'f'.repeat(64) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (existsSync(join(dir, '.rekey', 'due.json'))) {
          clearInterval(t)
          resolve()
        }
      }, 20)
    })
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))
    expect(code).toBe(0)
    expect(stderr).toMatch(/rekey daemon: 1 policies in .*rekey\.yml/)
    expect(stderr).toMatch(/rekey daemon: stopped after \d+ ticks?/)
  })
})

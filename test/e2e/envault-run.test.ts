import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DIST, spawnBin, tempDir } from '../helpers/cli.js'

function project() {
  const dir = tempDir('envault-run-')
  writeFileSync(join(dir, '.envault.yml'), 'project: p\nenvironments:\n  dev: .env.dev\n')
  writeFileSync(join(dir, '.env.dev'), 'GREETING="hello world"\nSHARED=from-file\nMULTI="a\\nb"\n')
  return dir
}

const node = process.execPath

describe('envault run', () => {
  it('injects the environment; existing variables win unless --override', async () => {
    const dir = project()
    const script = 'process.stdout.write(JSON.stringify({g: process.env.GREETING, s: process.env.SHARED, m: process.env.MULTI}))'
    let r = await spawnBin('envault', ['run', '--env', 'dev', '--', node, '-e', script], { cwd: dir, env: { SHARED: 'from-process' } })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ g: 'hello world', s: 'from-process', m: 'a\nb' })
    r = await spawnBin('envault', ['run', '--env', 'dev', '--override', '--', node, '-e', script], { cwd: dir, env: { SHARED: 'from-process' } })
    expect(JSON.parse(r.stdout).s).toBe('from-file')
  })
  it("exits with the child's code, and 128 + signal when the child is killed", async () => {
    const dir = project()
    expect((await spawnBin('envault', ['run', '--env', 'dev', '--', node, '-e', 'process.exit(7)'], { cwd: dir })).code).toBe(7)
    expect((await spawnBin('envault', ['run', '--env', 'dev', '--', node, '-e', 'process.kill(process.pid, "SIGKILL")'], { cwd: dir })).code).toBe(137)
    const missing = await spawnBin('envault', ['run', '--env', 'dev', '--', 'no-such-command-xyz'], { cwd: dir })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/command not found: no-such-command-xyz/)
    expect((await spawnBin('envault', ['run', '--env', 'qa', '--', node, '-e', '0'], { cwd: dir })).stderr).toMatch(/unknown environment "qa"/)
  })
  it.each([
    ['SIGTERM', 15],
    ['SIGINT', 2],
    ['SIGHUP', 1],
  ] as const)('forwards %s to the child', async (sig, num) => {
    const dir = project()
    // The child reports the signal it got, then exits with a code that proves it handled it.
    const script = `for (const s of ['SIGTERM','SIGINT','SIGHUP']) process.on(s, () => { process.stdout.write('got ' + s); process.exit(40 + ${num}) }); process.stdout.write('ready\\n'); setInterval(() => {}, 1000)`
    const child = spawn(node, [join(DIST, 'cli', 'envault.js'), 'run', '--env', 'dev', '--', node, '-e', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('ready')) resolve()
      })
    })
    child.kill(sig)
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(out).toContain(`got ${sig}`)
    expect(code).toBe(40 + num)
  })
  it('exits 128 + signal when the forwarded signal kills the child', async () => {
    const dir = project()
    const child = spawn(node, [join(DIST, 'cli', 'envault.js'), 'run', '--env', 'dev', '--', node, '-e', "process.stdout.write('ready\\n'); setInterval(() => {}, 1000)"], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()))
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(code).toBe(143)
  })
})

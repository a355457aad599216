import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DIST, spawnBin, tempDir } from '../helpers/cli.js'
import { ENVS, envValue, isValid, runFiles, sha16, writeProject } from './rekey-helpers.js'

/**
 * The crash matrix: a `rekey rotate` is SIGKILLed at each step (by the provider's own scripts
 * killing their parent, or from outside while watching the journal), then `rekey resume` or
 * `rekey tick` must complete or roll back the run, and at every moment each target must hold a
 * credential that works.
 */
const SECRET = 'API_TOKEN'
const INITIAL = 'tok_initial_value_0123456789abcdef'
const ENV = { REKEY_MASTER_KEY: 'a'.repeat(64), REKEY_VERIFY_RETRY_MS: '0' }

function targetsWork(dir: string): boolean {
  return ENVS.every((e) => isValid(dir, envValue(dir, e, SECRET)))
}

function readRun(dir: string): { id: string; state: string; intent: string | null } {
  const files = runFiles(dir)
  expect(files).toHaveLength(1)
  return JSON.parse(readFileSync(files[0]!, 'utf8')) as { id: string; state: string; intent: string | null }
}

async function checkFinal(dir: string, allowed: string[]): Promise<string> {
  const run = readRun(dir)
  expect(allowed).toContain(run.state)
  const values = ENVS.map((e) => envValue(dir, e, SECRET))
  expect(new Set(values).size).toBe(1)
  expect(targetsWork(dir)).toBe(true)
  if (run.state === 'rolled_back') {
    expect(values[0]).toBe(INITIAL)
    expect(readdirSync(join(dir, 'valid'))).toHaveLength(1)
  } else {
    expect(values[0]).not.toBe(INITIAL)
    expect(isValid(dir, INITIAL)).toBe(false)
  }
  expect(readdirSync(join(dir, '.rekey', 'locks')).filter((f) => f.endsWith('.lock'))).toEqual([])
  const verify = await spawnBin('rekey', ['audit', 'verify'], { cwd: dir, env: ENV })
  expect(verify.code).toBe(0)
  return run.state
}

const CASES: { name: string; hook: string; fail?: boolean; via: 'resume' | 'tick'; expect: string[] }[] = [
  { name: 'while creating the credential', hook: 'create', via: 'resume', expect: ['done'] },
  { name: 'during the provider test (targets staged)', hook: 'test', via: 'resume', expect: ['done'] },
  { name: 'during the verify command', hook: 'verify', via: 'tick', expect: ['done'] },
  { name: 'right after revoking the old credential', hook: 'revoke', via: 'resume', expect: ['done'] },
  { name: 'while rolling back a failed verification', hook: 'revoke', fail: true, via: 'tick', expect: ['rolled_back'] },
]

describe('crash matrix: kill -9 at each step, then resume/tick', () => {
  for (const c of CASES) {
    it(`killed ${c.name} → ${c.via} → ${c.expect.join('|')}`, async () => {
      const dir = tempDir()
      writeProject(dir, { secret: SECRET, initial: INITIAL })
      writeFileSync(join(dir, `crash.${c.hook}`), '')
      if (c.fail) writeFileSync(join(dir, 'fail.test'), sha16(INITIAL))
      const r = await spawnBin('rekey', ['rotate', SECRET], { cwd: dir, env: ENV })
      expect(r.code).toBe(128) // SIGKILL
      expect(existsSync(join(dir, `crash.${c.hook}`))).toBe(false)
      expect(targetsWork(dir)).toBe(true)
      const run = readRun(dir)
      // A killed run still holds its secret: a new rotation is refused, naming it.
      const again = await spawnBin('rekey', ['rotate', SECRET], { cwd: dir, env: ENV })
      expect(again.code).toBe(1)
      expect(again.stderr).toContain(`error: ${SECRET}: in progress (run ${run.id})`)
      const fin = c.via === 'resume' ? await spawnBin('rekey', ['resume', run.id], { cwd: dir, env: ENV }) : await spawnBin('rekey', ['tick'], { cwd: dir, env: ENV })
      expect(fin.stderr).not.toContain('internal error')
      await checkFinal(dir, c.expect)
    })
  }

  it('killed from outside while the journal shows staging; resume completes or rolls back', async () => {
    const dir = tempDir()
    writeProject(dir, { secret: SECRET, initial: INITIAL })
    const child = spawn(process.execPath, [join(DIST, 'cli', 'rekey.js'), 'rotate', SECRET], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, ...ENV }, stdio: 'ignore' })
    const killed = await new Promise<boolean>((resolve) => {
      const t = setInterval(() => {
        for (const f of runFiles(dir)) {
          try {
            const run = JSON.parse(readFileSync(f, 'utf8')) as { state: string; targets: { holds: string }[] }
            if (run.state === 'staged' && run.targets.some((x) => x.holds !== 'old')) {
              child.kill('SIGKILL')
              clearInterval(t)
              resolve(true)
            }
          } catch {
            // the file is being replaced
          }
        }
      }, 1)
      child.on('exit', () => {
        clearInterval(t)
        resolve(false)
      })
    })
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.on('exit', r)))
    expect(targetsWork(dir)).toBe(true)
    const run = readRun(dir)
    if (killed) {
      const fin = await spawnBin('rekey', ['resume', run.id], { cwd: dir, env: ENV })
      expect(fin.code).toBe(0)
    }
    await checkFinal(dir, ['done'])
  })
})

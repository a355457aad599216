import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createFakeClock } from '../../adapters/system/system.js'
import { runCli, tempDir } from '../../../test/helpers/cli.js'
import { envValue, writeProject } from '../../../test/e2e/rekey-helpers.js'

const SECRET = 'API_TOKEN'
const INITIAL = 'tok_initial_value_0123456789abcdef'
const env = { REKEY_MASTER_KEY: 'e'.repeat(64), REKEY_VERIFY_RETRY_MS: '0', PATH: process.env.PATH }

function project(policyExtra = '') {
  const dir = tempDir()
  writeProject(dir, { secret: SECRET, initial: INITIAL })
  if (policyExtra) writeFileSync(join(dir, 'rekey.yml'), `rotations:\n  ${SECRET}:\n    provider: command\n    create: ./create.sh\n    revoke_command: ./revoke.sh\n    test: ./test.sh\n    targets: [staging, prod, dev]\n${policyExtra}`)
  return dir
}

describe('rekey rotation commands (in-process, fake clock)', () => {
  it('reports every problem in rekey.yml at once, on one line, exit 2', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, '.envault.yml'), 'project: x\nenvironments:\n  prod: .env.prod\n')
    writeFileSync(join(dir, 'rekey.yml'), 'rotations:\n  A:\n    provider: postgres\n    targets: [prod, qa]\n    schedule: every 9x\n  B:\n    provider: apiauth\n    key_id: nothex\n    targets: [prod]\n')
    const r = await runCli('rekey', ['status'], { cwd: dir, env })
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^error: rekey\.yml: \d+ problems: /)
    for (const f of ['rotations.B.key_id', 'rotations.A.roles', 'rotations.A.url', 'rotations.A.schedule', 'rotations.A.targets[1]: unknown environment "qa"']) expect(lines[0]).toContain(f)
  })

  it('bad input: missing config, unknown policy, bad duration, unknown run — each named, no change', async () => {
    const empty = tempDir()
    const none = await runCli('rekey', ['plan'], { cwd: empty, env })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain(`error: no rekey.yml or .envault.yml in ${empty}`)
    const dir = project()
    const unknown = await runCli('rekey', ['rotate', 'NOPE'], { cwd: dir, env })
    expect(unknown).toMatchObject({ code: 1, stderr: `error: no rotation policy named NOPE in rekey.yml\nhint: policies: ${SECRET}\n` })
    const bad = await runCli('rekey', ['postpone', SECRET, 'soon'], { cwd: dir, env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('invalid postponement "soon"')
    const run = await runCli('rekey', ['resume', 'rot_0123456789abcdef'], { cwd: dir, env })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('run rot_0123456789abcdef not found')
    const json = await runCli('rekey', ['rotate', 'NOPE', '--json'], { cwd: dir, env })
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' } })
    expect(envValue(dir, 'prod', SECRET)).toBe(INITIAL)
  })

  it('plan, notice, tick (idempotent), status and history follow the fake clock', async () => {
    const dir = project('    schedule: every 30d\n    notice: 7d\n    grace: 1h\n    revoke: { idle: "0", max: 1d }\nnotify:\n  - log: .rekey/notifications.log\n')
    const clock = createFakeClock('2026-01-01T00:00:00Z')
    const cli = (args: string[]) => runCli('rekey', args, { cwd: dir, env, clock })
    expect((await cli(['tick'])).stdout).toContain('tick 2026-01-01T00:00:00.000Z: 0 due of 1 policy')
    const plan = JSON.parse((await cli(['plan', '--json'])).stdout)
    expect(plan.policies[0]).toMatchObject({ secret: SECRET, next_rotation: '2026-01-31T00:00:00.000Z', notice_at: '2026-01-24T00:00:00.000Z', due_now: [] })
    clock.set('2026-01-25T00:00:00Z')
    expect((await cli(['tick'])).stdout).toContain(`notice sent: ${SECRET}`)
    expect((await cli(['tick'])).stdout).not.toContain('notice sent')
    clock.set('2026-01-31T00:00:01Z')
    const t = await cli(['tick', '--json'])
    expect(JSON.parse(t.stdout).rotated).toMatchObject([{ secret: SECRET, state: 'draining' }])
    const again = JSON.parse((await cli(['tick', '--json'])).stdout)
    expect(again.rotated).toEqual([])
    expect(again.resumed[0].waiting).toMatch(/^in grace period/)
    const status = await cli(['status'])
    expect(status.stdout.split('\n')[0]!.split(/ {2,}/)).toEqual(['SECRET', 'PROVIDER', 'VERSION', 'AGE', 'NEXT ROTATION', 'STATE', 'TARGETS', 'LAST RESULT'])
    expect(status.stdout).toMatch(new RegExp(`^${SECRET}  command   cmd:[0-9a-f]{12}  0m   2026-03-02 00:00  draining \\(rot_[0-9a-f]{16}\\)  3/3      -$`, 'm'))
    clock.advance(2 * 3_600_000)
    expect((await cli(['tick'])).stdout).toMatch(/resumed API_TOKEN: run rot_\w+ done/)
    const hist = JSON.parse((await cli(['history', SECRET, '--json'])).stdout)
    expect(hist.runs).toHaveLength(1)
    expect(hist.runs[0].sealed).toBeUndefined()
    expect(hist.runs[0]).toMatchObject({ state: 'done', trigger: 'auto' })
    expect((hist.runs[0].steps as { state: string }[]).map((s) => s.state)).toEqual(['scheduled', 'creating', 'staged', 'verified', 'promoted', 'draining', 'draining', 'revoked', 'done'])
    const post = await cli(['postpone', SECRET, '30d'])
    expect(post.stdout).toBe(`✓ Postponed ${SECRET} by 30d: next rotation 2026-04-01T00:00:01.000Z\n`)
    const audit = readFileSync(join(dir, '.envault-audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; actor: string; detail: Record<string, unknown> })
    expect(audit[0]).toMatchObject({ action: 'rotation.notice', actor: 'rekey', detail: { due_at: '2026-01-31T00:00:00.000Z', trigger: 'auto' } })
    expect(audit.at(-1)).toMatchObject({ action: 'rotation.postpone', detail: { by: '30d', until: '2026-04-01T00:00:01.000Z', trigger: 'manual' } })
    expect(audit.filter((e) => e.action === 'rotation.stage').every((e) => e.detail.trigger === 'auto')).toBe(true)
  })

  it('a provider that cannot open (unknown apiauth key, unset URL variable) fails cleanly, naming it', async () => {
    const dir = project()
    writeFileSync(join(dir, 'rekey.yml'), `rotations:\n  ${SECRET}:\n    provider: apiauth\n    key_id: abc123def456\n    key_dir: keys\n    targets: [prod]\n  DB_URL:\n    provider: postgres\n    url_env: NOT_SET_URL\n    roles: [app_a, app_b]\n    targets: [prod]\n`)
    const a = await runCli('rekey', ['rotate', SECRET], { cwd: dir, env })
    expect(a.code).toBe(1)
    expect(a.stderr).toMatch(/^error: key abc123def456 not found/)
    const b = await runCli('rekey', ['rotate', 'DB_URL'], { cwd: dir, env })
    expect(b).toMatchObject({ code: 2, stderr: 'error: DB_URL: environment variable NOT_SET_URL is not set\n' })
    expect(envValue(dir, 'prod', SECRET)).toBe(INITIAL)
  })

  it('--dry-run prints the plan and changes nothing', async () => {
    const dir = project('    grace: 24h\n')
    const r = await runCli('rekey', ['rotate', SECRET, '--dry-run'], { cwd: dir, env })
    expect(r.code).toBe(0)
    expect(r.stdout.split('\n').slice(0, 3)).toEqual([`Plan for ${SECRET} (dry run: nothing is changed)`, `  1. check drift: staging, prod, dev hold the same ${SECRET}`, '  2. create a new credential at command'])
    expect(envValue(dir, 'prod', SECRET)).toBe(INITIAL)
  })
})

describe('policies under rotations: in .envault.yml', () => {
  it('are found when there is no rekey.yml, sharing its environments', async () => {
    const dir = tempDir()
    writeProject(dir, { secret: SECRET, initial: INITIAL })
    const policy = readFileSync(join(dir, 'rekey.yml'), 'utf8')
    writeFileSync(join(dir, '.envault.yml'), `project: e2e\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\n${policy}`)
    const { rmSync } = await import('node:fs')
    rmSync(join(dir, 'rekey.yml'))
    const r = await runCli('rekey', ['rotate', SECRET, '--emergency'], { cwd: dir, env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('State: done')
    const v = envValue(dir, 'dev', SECRET)
    expect(v).not.toBe(INITIAL)
    expect(envValue(dir, 'prod', SECRET)).toBe(v)
  })
})

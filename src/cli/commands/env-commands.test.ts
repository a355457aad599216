import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { runCli, tempDir } from '../../../test/helpers/cli.js'
import { createFakeClock } from '../../adapters/system/system.js'
import { parseDotenv, toMap } from '../../core/env/dotenv-parse.js'
import type { AuditEvent } from '../../core/audit/audit-event.js'
import { formatDotenv, formatGithubActions, formatShell } from './env-export.js'
import { renderAuditLines } from './env-audit-log.js'

const tricky = new Map([
  ['PLAIN', 'value'],
  ['QUOTES', `it's "quoted"`],
  ['MULTI', 'line1\nline2\r\nline3'],
  ['SUBST', '$(touch /tmp/pwned) `id` ${HOME} $HOME'],
  ['HASH', 'a #b'],
  ['EMPTY', ''],
  ['SPACES', '  padded  '],
  ['BACKSLASH', 'C:\\path\\n'],
])

describe('export formats', () => {
  it('env is safe to eval and gives back every value exactly', () => {
    const script = formatShell(tricky) + [...tricky.keys()].map((k) => `printf '%s\\0' "$${k}"`).join('\n')
    const out = execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH ?? '' } }).toString()
    expect(out.split('\0').slice(0, -1)).toEqual([...tricky.values()])
    expect(() => formatShell(new Map([['BAD-NAME', 'x']]))).toThrow(/not a valid shell variable name/)
  })
  it('dotenv reads back through our parser unchanged', () => {
    const doc = parseDotenv(formatDotenv(tricky))
    expect(doc.problems).toEqual([])
    expect(toMap(doc)).toEqual(tricky)
  })
  it('github-actions masks every value (and each line of multi-line values) and uses random heredoc delimiters', () => {
    const { masks, env } = formatGithubActions(tricky, { bytes: (n) => randomBytes(n) })
    expect(masks).toContain('::add-mask::line1%0Aline2%0D%0Aline3\n')
    expect(masks).toContain('::add-mask::line1\n')
    expect(masks).toContain('::add-mask::value\n')
    expect(masks).not.toContain('::add-mask::\n')
    const m = /^MULTI<<(ghadelimiter_[0-9a-f]{32})\nline1\nline2\r\nline3\n\1\n/m.exec(env)
    expect(m).not.toBeNull()
    const delims = [...env.matchAll(/<<(\S+)/g)].map((x) => x[1])
    expect(new Set(delims).size).toBe(tricky.size)
  })
})

describe('audit-log rendering', () => {
  const ev = (seq: number, ts: string, action: string, target: string, env: string | undefined, detail: AuditEvent['detail'] = {}): AuditEvent => ({
    seq, id: `evt_${seq}`, ts, actor: 'ci-bot', action, target, ...(env ? { env } : {}), status: 'ok', detail, prev: '', hash: '',
  })
  it("prints seed 000's lines, one SYNC line per sync run", () => {
    const lines = renderAuditLines([
      ev(1, '2026-05-27T09:00:15.120Z', 'secret.rotate', 'STRIPE_API_KEY', 'staging'),
      ev(2, '2026-05-27T09:00:22.000Z', 'secret.sync', 'STRIPE_API_KEY', 'prod', { from: 'staging', op: 'sync_a' }),
      ev(3, '2026-05-27T09:00:22.000Z', 'secret.sync', 'API_KEY', 'prod', { from: 'staging', op: 'sync_a' }),
      ev(4, '2026-05-27T09:00:28.000Z', 'secret.sync', 'STRIPE_API_KEY', 'dev', { from: 'staging', op: 'sync_b' }),
      ev(5, '2026-05-27T09:00:35.000Z', 'secret.set', 'STRIPE_API_KEY', 'ci', { new_last4: '…XyZ1' }),
    ])
    expect(lines).toEqual([
      '[2026-05-27 09:00:15] ROTATE STRIPE_API_KEY env=staging user=ci-bot',
      '[2026-05-27 09:00:22] SYNC staging → prod user=ci-bot',
      '[2026-05-27 09:00:28] SYNC staging → dev user=ci-bot',
      '[2026-05-27 09:00:35] SET STRIPE_API_KEY env=ci value=*** user=ci-bot',
    ])
  })
})

function project() {
  const dir = tempDir('envault-cmd-')
  writeFileSync(join(dir, '.envault.yml'), 'project: p\nenvironments:\n  dev: .env.dev\n  prod: .env.prod\n')
  writeFileSync(join(dir, '.env.dev'), 'DB_PASSWORD=a-long-password-1\nLOG_LEVEL=debug\n')
  writeFileSync(join(dir, '.env.prod'), 'DB_PASSWORD=b-long-password-2\nLOG_LEVEL=warn\n')
  return dir
}

describe('commands in-process', () => {
  it('init refuses to overwrite without --force and adds the key file to .gitignore', async () => {
    const dir = tempDir('envault-init-')
    writeFileSync(join(dir, '.gitignore'), 'node_modules')
    expect((await runCli('envault', ['init', 'demo'], { cwd: dir })).code).toBe(0)
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n.envault.key\n')
    writeFileSync(join(dir, '.envault.yml'), 'project: mine\n')
    const again = await runCli('envault', ['init', 'other'], { cwd: dir })
    expect(again.code).toBe(1)
    expect(readFileSync(join(dir, '.envault.yml'), 'utf8')).toBe('project: mine\n')
    expect((await runCli('envault', ['init', 'other', '--force'], { cwd: dir })).code).toBe(0)
    expect(readFileSync(join(dir, '.envault.yml'), 'utf8')).toContain('project: other\n')
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n.envault.key\n')
  })
  it('rotate-all asks on a terminal and does nothing on "n"', async () => {
    const dir = project()
    const stdin = Object.assign(new PassThrough(), { isTTY: true })
    stdin.end('n\n')
    const r = await runCli('envault', ['rotate-all', '--env', 'prod'], { cwd: dir, stdin })
    expect(r.stderr).toMatch(/Rotate 1 secrets in prod\? \[y\/N\]/)
    expect(r.code).toBe(130)
    expect(readFileSync(join(dir, '.env.prod'), 'utf8')).toBe('DB_PASSWORD=b-long-password-2\nLOG_LEVEL=warn\n')
    const yes = Object.assign(new PassThrough(), { isTTY: true })
    yes.end('y\n')
    expect((await runCli('envault', ['rotate-all', '--env', 'prod'], { cwd: dir, stdin: yes })).code).toBe(0)
    expect(readFileSync(join(dir, '.env.prod'), 'utf8')).not.toContain('b-long-password-2')
  })
  it('every command answers --json', async () => {
    const dir = project()
    const clock = createFakeClock('2026-05-27T09:00:00Z')
    for (const args of [['diff', 'dev', 'prod'], ['sync', 'dev', 'prod', '--dry-run'], ['list', '--env', 'dev'], ['rotate', 'DB_PASSWORD', '--dry-run'], ['set', 'X', '1', '--env', 'dev'], ['get', 'X', '--env', 'dev'], ['audit-log'], ['encrypt', '--env', 'dev'], ['export', '--env', 'dev', '--format', 'json']]) {
      const r = await runCli('envault', [...args, '--json'], { cwd: dir, clock, env: { ENVAULT_MASTER_KEY: 'd'.repeat(64) } })
      expect(r.code, args.join(' ')).toBe(0)
      expect(() => JSON.parse(r.stdout) as unknown, args.join(' ')).not.toThrow()
    }
    const audit = JSON.parse((await runCli('envault', ['audit-log', '--json'], { cwd: dir, clock })).stdout) as AuditEvent[]
    expect(audit.map((e) => e.action)).toEqual(['secret.set', 'env.encrypt', 'secret.export'])
    expect(audit[0]!.ts).toBe('2026-05-27T09:00:00.000Z')
    const err = await runCli('envault', ['get', 'NOPE', '--env', 'dev', '--json'], { cwd: dir, env: { ENVAULT_MASTER_KEY: 'd'.repeat(64) } })
    expect(JSON.parse(err.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' } })
  })
  it('export --format github-actions masks on stdout and appends heredoc blocks to $GITHUB_ENV', async () => {
    const dir = project()
    const ghEnv = join(dir, 'github_env')
    writeFileSync(ghEnv, 'EXISTING=1\n')
    const r = await runCli('envault', ['export', '--env', 'dev', '--format', 'github-actions'], { cwd: dir, env: { GITHUB_ENV: ghEnv } })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('::add-mask::a-long-password-1\n::add-mask::debug\n')
    expect(readFileSync(ghEnv, 'utf8')).toMatch(/^EXISTING=1\nDB_PASSWORD<<(ghadelimiter_\w+)\na-long-password-1\n\1\nLOG_LEVEL<<(ghadelimiter_\w+)\ndebug\n\2\n$/)
    expect((await runCli('envault', ['export', '--env', 'dev', '--format', 'github-actions'], { cwd: dir })).stderr).toMatch(/GITHUB_ENV is not set/)
  })
  it('diff-files decrypts files that are environments of the project, and refuses others', async () => {
    const dir = project()
    const env = { ENVAULT_MASTER_KEY: 'd'.repeat(64) }
    expect((await runCli('envault', ['encrypt', '--env', 'prod'], { cwd: dir, env })).code).toBe(0)
    const r = await runCli('envault', ['diff-files', '.env.dev', '.env.prod', '--show-values'], { cwd: dir, env })
    expect(r.stdout).toContain('  DB_PASSWORD: a-long-password-1 → b-long-password-2\n')
    writeFileSync(join(dir, 'loose.env'), readFileSync(join(dir, '.env.prod')))
    const loose = await runCli('envault', ['diff-files', '.env.dev', 'loose.env'], { cwd: dir, env })
    expect(loose.stderr).toMatch(/loose\.env has encrypted values but is not an environment/)
  })
  it('rotate --per-env gives each environment its own value', async () => {
    const dir = project()
    const r = await runCli('envault', ['rotate', 'DB_PASSWORD', '--per-env', '--show', '--json'], { cwd: dir })
    const out = JSON.parse(r.stdout) as { shared: boolean; targets: { env: string; value: string }[] }
    expect(out.shared).toBe(false)
    expect(out.targets[0]!.value).not.toBe(out.targets[1]!.value)
    expect(readFileSync(join(dir, '.env.prod'), 'utf8')).toContain(out.targets[1]!.value)
  })
})

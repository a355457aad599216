import { describe, expect, it } from 'vitest'
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { parseDotenv, toMap } from '../../src/core/env/dotenv-parse.js'

const CONFIG = 'project: p\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\nconflict_strategy: source_wins\n'

function project(files: Record<string, string | Buffer>, config = CONFIG) {
  const dir = tempDir('envault-bad-')
  writeFileSync(join(dir, '.envault.yml'), config)
  for (const [f, t] of Object.entries(files)) writeFileSync(join(dir, f), t)
  const ev = (args: string[], env: Record<string, string> = {}) => spawnBin('envault', args, { cwd: dir, env })
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  return { dir, ev, read }
}

describe('envault with bad input', () => {
  it('keeps malformed lines, warns by line number without echoing them, and never loses them on write', async () => {
    const dev = 'A=1\nthis line is junk s3cr3t-junk\nB="unterminated\n'
    const { ev, read } = project({ '.env.dev': dev, '.env.prod': 'A=2\n' })
    const r = await ev(['set', 'C', '3', '--env', 'dev'])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('warning: .env.dev: line 2 is not KEY=VALUE (kept as is)')
    expect(r.stderr).toContain('warning: .env.dev: line 3 has an unterminated or malformed quoted value')
    expect(r.stderr).not.toContain('s3cr3t-junk')
    expect(read('.env.dev')).toBe(dev + 'C=3\n')
  })
  it('refuses binary garbage naming the file', async () => {
    const { ev, read } = project({ '.env.dev': Buffer.from([0x41, 0x3d, 0x00, 0xff, 0x13, 0x37]), '.env.prod': 'A=1\n' })
    const r = await ev(['diff', 'dev', 'prod'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^error: \.env\.dev is not a text file \(it contains NUL bytes\)\n/)
    expect((await ev(['sync', 'prod', 'dev'])).code).toBe(1)
    expect(read('.env.prod')).toBe('A=1\n')
  })
  it('handles a 10 MB file', async () => {
    const big = Array.from({ length: 160_000 }, (_, i) => `KEY_${i}=${'v'.repeat(60)}`).join('\n') + '\n'
    expect(big.length).toBeGreaterThan(10_000_000)
    const { ev, read } = project({ '.env.dev': big, '.env.prod': 'KEY_1=x\n' })
    const r = await ev(['set', 'KEY_5', 'changed', '--env', 'dev'])
    expect(r.code).toBe(0)
    const after = read('.env.dev')
    expect(after.length).toBe(big.length - 60 + 7)
    expect(toMap(parseDotenv(after)).get('KEY_5')).toBe('changed')
    const d = await ev(['diff', 'prod', 'dev', '--json'])
    expect(JSON.parse(d.stdout).onlyInTarget).toHaveLength(159_999)
  })
  it('reports a duplicate key and edits the definition that wins', async () => {
    const { ev, read } = project({ '.env.dev': 'A=first\nB=x\nA=second\n' })
    const g = await ev(['get', 'A', '--env', 'dev'])
    expect(g.stdout).toBe('second\n')
    expect(g.stderr).toContain('A is defined twice (lines 1 and 3); the last one wins')
    await ev(['set', 'A', 'third', '--env', 'dev'])
    expect(read('.env.dev')).toBe('A=first\nB=x\nA=third\n')
  })
  it('reports every config problem at once, with lines, exit 2', async () => {
    const { ev } = project({}, 'project: p\nenvironments:\n  dev: .env.dev\nconflict_strategy: newest\nskip_keys: nope\nextra: 1\n')
    const r = await ev(['diff', 'dev', 'dev'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/\.envault\.yml has 3 problems:/)
    expect(r.stderr).toMatch(/line 4: conflict_strategy/)
    expect(r.stderr).toMatch(/line 5: skip_keys/)
    expect(r.stderr).toMatch(/line 6: extra: unknown key/)
  })
  it('a wrong encryption key is a clear error that changes nothing', async () => {
    const key = 'a'.repeat(64)
    const { ev, read } = project({ '.env.prod': 'DB_PASSWORD=hunter2-secret\nLOG_LEVEL=warn\n', '.env.dev': 'LOG_LEVEL=debug\n' })
    expect((await ev(['encrypt', '--env', 'prod'], { ENVAULT_MASTER_KEY: key })).code).toBe(0)
    const enc = read('.env.prod')
    expect(enc).not.toContain('hunter2')
    const wrong = { ENVAULT_MASTER_KEY: 'b'.repeat(64) }
    for (const args of [['get', 'DB_PASSWORD', '--env', 'prod'], ['set', 'LOG_LEVEL', 'x', '--env', 'prod'], ['sync', 'dev', 'prod'], ['decrypt', '--env', 'prod'], ['rotate', 'DB_PASSWORD']]) {
      const r = await ev(args, wrong)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/cannot decrypt (DB_PASSWORD|LOG_LEVEL) in \.env\.prod: wrong master key, or the data was altered/)
      expect(read('.env.prod')).toBe(enc)
    }
    const none = await ev(['get', 'DB_PASSWORD', '--env', 'prod'])
    expect(none.stderr).toMatch(/no master key to read encrypted values: set ENVAULT_MASTER_KEY/)
    expect((await ev(['get', 'DB_PASSWORD', '--env', 'prod'], { ENVAULT_MASTER_KEY: key })).stdout).toBe('hunter2-secret\n')
  })
  it('refuses a read-only target and leaves every file as it was', async () => {
    const files = { '.env.dev': 'DB_PASSWORD=a\n', '.env.staging': 'DB_PASSWORD=b\n', '.env.prod': 'DB_PASSWORD=c\n' }
    const { ev, read, dir } = project(files)
    chmodSync(join(dir, '.env.staging'), 0o444)
    let r = await ev(['rotate', 'DB_PASSWORD'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/cannot write \.env\.staging: the file is read-only; nothing was changed/)
    for (const [f, t] of Object.entries(files)) expect(read(f)).toBe(t)
    r = await ev(['sync', 'dev', 'staging'])
    expect(r.code).toBe(1)
    expect(read('.env.staging')).toBe(files['.env.staging'])
    expect(readdirSync(dir).filter((f) => /\.(tmp|bak|lock)$/.test(f))).toEqual([])
  })
  it('two concurrent syncs into one file both land, one after the other', async () => {
    const { ev, read, dir } = project({
      '.env.dev': '# dev\nA=dev\nFROM_DEV=1\n',
      '.env.staging': '# staging\nB=staging\nFROM_STAGING=1\n',
      '.env.prod': '# prod comment\nexport KEEP=me\n',
    })
    const [a, b] = await Promise.all([ev(['sync', 'dev', 'prod']), ev(['sync', 'staging', 'prod'])])
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    const out = read('.env.prod')
    expect(out.startsWith('# prod comment\nexport KEEP=me\n')).toBe(true)
    const m = toMap(parseDotenv(out))
    expect(m.get('FROM_DEV')).toBe('1')
    expect(m.get('FROM_STAGING')).toBe('1')
    expect(m.get('A')).toBe('dev')
    expect(m.get('B')).toBe('staging')
    expect(parseDotenv(out).problems).toEqual([])
    expect(readdirSync(dir).filter((f) => /\.(tmp|bak|lock)$/.test(f))).toEqual([])
  })
  it('gives usage errors for unknown strategies, environments and formats', async () => {
    const { ev, dir } = project({ '.env.dev': 'A=1\n', '.env.prod': 'A=2\n' })
    expect((await ev(['sync', 'dev', 'prod', '--strategy', 'newest'])).stderr).toMatch(/invalid --strategy "newest": use source_wins, target_wins, error/)
    const r = await ev(['diff', 'dev', 'qa'])
    expect(r.stderr).toMatch(/unknown environment "qa"/)
    expect(readdirSync(dir).some((f) => f.includes('qa'))).toBe(false)
    expect((await ev(['export', '--env', 'dev', '--format', 'yaml'])).code).toBe(2)
    expect((await ev(['rotate', 'A', '--length', 'abc'])).code).toBe(2)
    expect((await ev(['set', '1BAD', 'x', '--env', 'dev'])).code).toBe(2)
  })
  it('serve refuses a non-loopback host without a token, and an empty token', async () => {
    const { ev } = project({ '.env.dev': 'A=1\n' })
    let r = await ev(['serve', '--env', 'dev', '--host', '0.0.0.0', '--port', '0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/refusing to serve secrets on 0\.0\.0\.0 without a token/)
    r = await ev(['serve', '--env', 'dev', '--port', '0'], { ENVAULT_API_KEY: '' })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/ENVAULT_API_KEY is set but empty/)
    r = await ev(['serve', '--env', 'dev', '--port', '0', '--api-key', ''])
    expect(r.code).toBe(2)
  })
})

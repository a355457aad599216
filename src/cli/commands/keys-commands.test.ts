import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, truncateSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { parse as parseDotenv } from 'dotenv'
import fc from 'fast-check'
import { UnsecuredJWT } from 'jose'
import { createFakeClock, systemRandom } from '../../adapters/system/system.js'
import { runCli, tempDir } from '../../../test/helpers/cli.js'
import { dotenvQuote, githubEnvLine, shellQuote, varBase } from './keys-export.js'

const MASTER = 'a'.repeat(64)

function env(dir: string, extra: Record<string, string> = {}) {
  return { HOME: dir, APIAUTH_MASTER_KEY: MASTER, REKEY_ACTOR: 'alice', ...extra }
}

async function apiauth(dir: string, argv: string[], o: { clock?: ReturnType<typeof createFakeClock>; env?: Record<string, string>; input?: string } = {}) {
  return runCli('apiauth', argv, { cwd: dir, env: o.env ?? env(dir), ...(o.clock ? { clock: o.clock } : {}), ...(o.input !== undefined ? { input: o.input } : {}) })
}

async function generate(dir: string, args: string[] = [], o: Parameters<typeof apiauth>[2] = {}) {
  const r = await apiauth(dir, ['generate', 'api-key', '--name', 'Gateway', '--service', 'api-gateway', ...args], o)
  expect(r.code).toBe(0)
  const id = /API key ([0-9a-f]{12}) created/.exec(r.stdout)![1]!
  const key = /Key: (\S+)/.exec(r.stdout)![1]!
  return { id, key, r }
}

/** Parses a $GITHUB_ENV file the way the Actions runner does (NAME=value, or NAME<<DELIM … DELIM). */
function parseGithubEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line === '') continue
    const eq = line.indexOf('=')
    const hd = line.indexOf('<<')
    if (eq >= 0 && (hd < 0 || eq < hd)) {
      out[line.slice(0, eq)] = line.slice(eq + 1)
    } else {
      const name = line.slice(0, hd)
      const delim = line.slice(hd + 2)
      const body: string[] = []
      while (lines[++i] !== delim) {
        if (i >= lines.length) throw new Error(`unterminated heredoc ${delim}`)
        body.push(lines[i]!)
      }
      out[name] = body.join('\n')
    }
  }
  return out
}

describe('apiauth generate / rotate / verify output contracts', () => {
  it('prints the exact lines and exit codes the seeds parse', async () => {
    const dir = tempDir()
    const { id, key, r } = await generate(dir, ['--expiry-days', '90'])
    expect(r.stdout).toBe(`✓ API key ${id} created\n  Key: ${key}\n`)
    expect(key).toMatch(/^ak_[A-Za-z0-9_-]{43}$/)
    const rot = await apiauth(dir, ['rotate', id, '--expiry-days', '90'])
    expect(rot.code).toBe(0)
    const lines = rot.stdout.split('\n')
    expect(lines[0]).toBe(`✓ Rotated ${id} (v2)`)
    expect(lines[1]).toMatch(/^ {2}New key: ak_[A-Za-z0-9_-]{43}$/)
    expect(lines[2]).toBe('  Previous value has been hashed out. Save the new value.')
    expect(lines.length).toBe(4)
    const newKey = lines[1]!.split(/\s+/)[3]!
    const v = await apiauth(dir, ['verify', newKey])
    expect(v).toMatchObject({ code: 0, stdout: `✓ Key ${id} is VALID\n  Name: Gateway\n  Service: api-gateway\n  Version: 2\n` })
    const old = await apiauth(dir, ['verify', key])
    expect(old.code).toBe(0)
    expect(old.stdout).toContain(`✓ Key ${id} is VALID`)
    expect(old.stdout).toContain('  Version: 1 (deprecated: version 2 is current; accepted until ')
    expect(await apiauth(dir, ['verify', 'ak_unknown'])).toMatchObject({ code: 1, stdout: '✗ Key is INVALID\n' })
    const rev = await apiauth(dir, ['revoke', id])
    expect(rev).toMatchObject({ code: 0, stdout: `✗ Revoked ${id}\n` })
    const after = await apiauth(dir, ['verify', newKey])
    expect(after.code).toBe(1)
    expect(after.stdout.split('\n')[0]).toBe(`✗ Key ${id} is REVOKED`)
    const again = await apiauth(dir, ['rotate', id])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`key ${id} is revoked`)
  })

  it('reports EXPIRED and ends the grace window, with a fake clock', async () => {
    const dir = tempDir()
    const clock = createFakeClock('2026-01-01T00:00:00Z')
    const { id, key } = await generate(dir, ['--expiry-days', '1'], { clock })
    const rot = await apiauth(dir, ['rotate', id, '--grace', '1h'], { clock })
    expect(rot.code).toBe(0)
    clock.advance(2 * 3_600_000)
    const old = await apiauth(dir, ['verify', key], { clock })
    expect(old).toMatchObject({ code: 1 })
    expect(old.stdout.split('\n')[0]).toBe(`✗ Key ${id} is EXPIRED`)
    clock.advance(24 * 3_600_000)
    const cur = await apiauth(dir, ['verify', '-', '--json'], { clock, input: rot.stdout.split('\n')[1]!.split(' ')[4]! + '\n' })
    expect(cur.code).toBe(1)
    expect(JSON.parse(cur.stdout)).toMatchObject({ status: 'EXPIRED', id, valid: false })
  })

  it('--json everywhere: one JSON document per command, never wrapped', async () => {
    const dir = tempDir()
    const g = await apiauth(dir, ['generate', 'api-key', '--name', 'n'.repeat(150), '--service', 's', '--json'])
    const doc = JSON.parse(g.stdout)
    expect(g.stdout.trim().split('\n')).toHaveLength(1)
    expect(doc).toMatchObject({ type: 'api_key', version: 1 })
    for (const argv of [['list'], ['show', doc.id], ['history', doc.id], ['stats'], ['audit'], ['export', '--format', 'json'], ['rotate', doc.id], ['verify', doc.key]]) {
      const r = await apiauth(dir, [...argv, '--json'])
      expect(() => void JSON.parse(r.stdout), argv.join(' ')).not.toThrow()
      expect(r.stdout.trim().split('\n')).toHaveLength(1)
    }
  })

  it('generates a JWT that verifies; forged and alg:none tokens are INVALID', async () => {
    const dir = tempDir()
    const g = await apiauth(dir, ['generate', 'jwt', '--name', 'svc token', '--service', 'auth', '--claim', 'role=reader', '--expiry-days', '30'])
    expect(g.code).toBe(0)
    const id = /JWT ([0-9a-f]{12}) created/.exec(g.stdout)![1]!
    const token = /Token: (\S+)/.exec(g.stdout)![1]!
    expect((await apiauth(dir, ['verify', token])).stdout).toContain(`✓ Key ${id} is VALID`)
    const none = new UnsecuredJWT({ sub: id, jti: `${id}.v1`, iss: 'apiauth' }).encode()
    expect(await apiauth(dir, ['verify', none])).toMatchObject({ code: 1, stdout: '✗ Key is INVALID\n' })
    const [h, p] = token.split('.')
    expect((await apiauth(dir, ['verify', `${h}.${p}.${'A'.repeat(43)}`])).code).toBe(1)
    const bad = await apiauth(dir, ['generate', 'jwt', '--name', 'x', '--service', 'y', '--claim', 'sub=admin'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--claim cannot set "sub"')
  })
})

describe('bad input: one clear line, exit 2, nothing written', () => {
  it.each([
    [['generate', 'api-key', '--name', 'n', '--service', 's', '--expiry-days', 'soon'], /invalid --expiry-days "soon"/],
    [['generate', 'api-key', '--name', 'n', '--service', 's', '--expiry-days', '-3'], /invalid --expiry-days/],
    [['generate', 'api-key', '--name', 'n', '--service', 's', '--rate-limit', '1e3'], /invalid --rate-limit/],
    [['generate', 'api-key', '--name', 'n', '--service', 's', '--prefix', 'a b'], /invalid --prefix/],
    [['generate', 'api-key', '--service', 's'], /required option '--name <name>' not specified/],
    [['generate', 'api-key', '--name', 'n', '--service', 's', '--bogus'], /unknown option '--bogus'/],
    [['rotate', '0123456789ab', '--grace', '5 parsecs'], /invalid --grace "5 parsecs"/],
    [['audit', '--within', 'a week'], /invalid --within "a week"/],
    [['export', '--format', 'xml'], /invalid --format "xml"/],
    [['revoke-version', '0123456789ab', 'latest'], /invalid version "latest"/],
  ])('%j', async (argv, message) => {
    const dir = tempDir()
    const r = await apiauth(dir, argv)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2)
    expect(existsSync(join(dir, '.apiauth', 'keystore.enc'))).toBe(false)
  })

  it('an unknown key id is a clear error with exit 1', async () => {
    const dir = tempDir()
    await generate(dir)
    for (const cmd of ['rotate', 'revoke', 'show', 'history', 'rollback']) {
      const r = await apiauth(dir, [cmd, 'abcabcabcabc'])
      expect(r.code, cmd).toBe(1)
      expect(r.stderr, cmd).toBe('error: key abcabcabcabc not found\n')
    }
  })

  it('prints names with markup and control characters literally and stores them exactly', async () => {
    const dir = tempDir()
    const name = '[/red] [bold]x\u001b[2J\u0007 "q" \'s\' $(id) `id`'
    const g = await apiauth(dir, ['generate', 'api-key', '--name', name, '--service', 'svc\n[/red]'])
    expect(g.code).toBe(0)
    const id = /API key ([0-9a-f]{12})/.exec(g.stdout)![1]!
    const show = await apiauth(dir, ['show', id])
    expect(show.stdout).toContain('  name: [/red] [bold]x\\x1b[2J\\x07 "q" \'s\' $(id) `id`\n')
    expect(show.stdout).toContain('  service: svc\\x0a[/red]\n')
    expect(show.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/)
    const list = await apiauth(dir, ['list'])
    expect(list.stdout).not.toContain('\u001b')
    const json = JSON.parse((await apiauth(dir, ['show', id, '--json'])).stdout)
    expect(json.name).toBe(name)
    expect(json.service).toBe('svc\n[/red]')
  })
})

describe('apiauth export', () => {
  it('prints the seed 001 formats', async () => {
    const dir = tempDir()
    const clock = createFakeClock('2025-08-01T12:00:00Z')
    const { id } = await generate(dir, ['--expiry-days', '92'], { clock })
    const e = await apiauth(dir, ['export', '--format', 'env'], { clock })
    expect(e.stdout).toBe(
      `export APIGATEWAY_ID="${id}"\nexport APIGATEWAY_SERVICE="api-gateway"\nexport APIGATEWAY_CREATED="2025-08-01T12:00:00Z"\nexport APIGATEWAY_EXPIRES="2025-11-01T12:00:00Z"\n`,
    )
    expect((await apiauth(dir, ['export', '--format', 'dotenv'], { clock })).stdout).toContain(`APIGATEWAY_ID="${id}"\nAPIGATEWAY_SERVICE="api-gateway"\n`)
    expect((await apiauth(dir, ['export', '--format', 'github-actions'], { clock })).stdout).toContain(`echo "APIGATEWAY_ID=${id}" >> $GITHUB_ENV\n`)
    const json = JSON.parse((await apiauth(dir, ['export', '--format', 'json'], { clock })).stdout)
    expect(json).toEqual([{ id, type: 'api_key', name: 'Gateway', service: 'api-gateway', version: 1, created_at: '2025-08-01T12:00:00Z', rotated_at: null, expires_at: '2025-11-01T12:00:00Z' }])
    const all = (await apiauth(dir, ['export', '--format', 'json'], { clock })).stdout
    expect(all).not.toMatch(/hash|ak_/)
  })

  it('leaves out revoked and expired keys, and filters by service', async () => {
    const dir = tempDir()
    const clock = createFakeClock('2026-01-01T00:00:00Z')
    const a = await generate(dir, ['--expiry-days', '1'], { clock })
    const b = await apiauth(dir, ['generate', 'api-key', '--name', 'b', '--service', 'billing'], { clock })
    const bid = /API key (\w+)/.exec(b.stdout)![1]!
    clock.advance(2 * 86_400_000)
    const out = (await apiauth(dir, ['export'], { clock })).stdout
    expect(out).not.toContain(a.id)
    expect(out).toContain(`export BILLING_ID="${bid}"`)
    expect((await apiauth(dir, ['export', '--service', 'nope'], { clock })).stdout).toBe('')
  })

  const tricky = ['plain', 'with space', 'q"uote', "sing'le", 'back\\slash\\', 'dollar $HOME `cmd` $(id)', 'multi\nline', 'all "\' `', 'tab\there', '#hash', '=eq', 'trailing ']

  it('env format round-trips through bash eval', () => {
    const script = tricky.map((v, i) => `export V${i}=${shellQuote(v)}`).join('\n') + '\n' + tricky.map((_, i) => `printf '%s\\0' "$V${i}"`).join('\n')
    const out = execFileSync('bash', ['-c', `eval "$(cat)"`], { input: script }).toString()
    expect(out.split('\0').slice(0, -1)).toEqual(tricky)
  })

  it('dotenv format round-trips through the dotenv parser', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary-ascii', maxLength: 20 }).filter((s) => !s.includes('\r') && !s.includes('\0')), { maxLength: 5 }), (values) => {
        const lines: string[] = []
        const expected: Record<string, string> = {}
        values.forEach((v, i) => {
          try {
            lines.push(`V${i}=${dotenvQuote(`V${i}`, v)}`)
            expected[`V${i}`] = v
          } catch (e) {
            expect((e as { code: string }).code).toBe('PARSE_ERROR')
          }
        })
        expect(parseDotenv(lines.join('\n'))).toEqual(expected)
      }),
      { numRuns: 500 },
    )
    const refused = ['all "\' `', 'back\\slash\\'] // every quote kind; a backslash before the closing quote
    for (const v of tricky.filter((t) => !refused.includes(t))) expect(parseDotenv(`X=${dotenvQuote('X', v)}\nY='z'`)).toEqual({ X: v, Y: 'z' })
    for (const v of refused) expect(() => dotenvQuote('X', v)).toThrow(/X cannot be written/)
  })

  it('github-actions format round-trips through $GITHUB_ENV, using a random heredoc delimiter for multi-line values', () => {
    const dir = tempDir()
    const file = join(dir, 'github_env')
    writeFileSync(file, '')
    const injected = 'x\nINJECTED=1\nghadelimiter_'
    const values = [...tricky, injected]
    const script = values.map((v, i) => githubEnvLine(`V${i}`, v, systemRandom)).join('\n')
    expect(script).toContain('<<ghadelimiter_')
    execFileSync('bash', ['-c', script], { env: { GITHUB_ENV: file, PATH: process.env.PATH ?? '' } })
    const parsed = parseGithubEnv(readFileSync(file, 'utf8'))
    expect(parsed).toEqual(Object.fromEntries(values.map((v, i) => [`V${i}`, v])))
    expect(parsed.INJECTED).toBeUndefined()
  })

  it('derives variable names from the service', () => {
    expect(varBase('api-gateway', 'abc')).toBe('APIGATEWAY')
    expect(varBase('3d-render', 'abc')).toBe('_3DRENDER')
    expect(varBase('日本', 'abc123abc123')).toBe('KEY_ABC123ABC123')
  })
})

describe('apiauth audit (health report)', () => {
  it('prints the seed 001 report and honours --exit-on-*', async () => {
    const dir = tempDir()
    const clock = createFakeClock('2025-10-01T00:00:00Z')
    const gen = async (service: string, days?: string) => {
      const r = await apiauth(dir, ['generate', 'api-key', '--name', 'n', '--service', service, ...(days ? ['--expiry-days', days] : [])], { clock })
      return /API key (\w+)/.exec(r.stdout)![1]!
    }
    expect((await apiauth(dir, ['audit'], { clock })).stdout).toBe('✓ All 0 keys are healthy\n')
    await gen('ok-service')
    expect((await apiauth(dir, ['audit'], { clock })).stdout).toBe('✓ All 1 keys are healthy\n')
    const x = await gen('api-gateway', '14')
    const a = await gen('payment-service', '33')
    const g = await gen('legacy-api')
    await apiauth(dir, ['revoke', g], { clock })
    clock.set('2025-10-31T00:00:00Z')
    const r = await apiauth(dir, ['audit'], { clock })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      [
        '✗ 1 EXPIRED key(s):',
        `  - ${x} (api-gateway) — expired 2025-10-15`,
        '',
        '⚠ 1 EXPIRING key(s) (within 7 days):',
        `  - ${a} (payment-service) — expires 2025-11-03`,
        '',
        '✗ 1 REVOKED key(s):',
        `  - ${g} (legacy-api) — revoked 2025-10-01`,
        '',
      ].join('\n'),
    )
    expect((await apiauth(dir, ['audit', '--exit-on-expired'], { clock })).code).toBe(1)
    expect((await apiauth(dir, ['audit', '--exit-on-revoked'], { clock })).code).toBe(1)
    expect((await apiauth(dir, ['audit', '--within', '1d'], { clock })).stdout).not.toContain('EXPIRING')
  })
})

describe('keystore safety through the CLI', () => {
  it('a wrong master key: clear error naming the file, exit 1, store untouched', async () => {
    const dir = tempDir()
    const { id } = await generate(dir)
    const ks = join(dir, '.apiauth', 'keystore.enc')
    const before = readFileSync(ks)
    const wrong = env(dir, { APIAUTH_MASTER_KEY: 'b'.repeat(64) })
    for (const argv of [['list'], ['rotate', id], ['generate', 'api-key', '--name', 'n', '--service', 's']]) {
      const r = await apiauth(dir, argv, { env: wrong })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`error: cannot decrypt ${ks}: wrong master key, or the data was altered`)
      expect(r.stderr).toContain('hint:')
    }
    expect(readFileSync(ks).equals(before)).toBe(true)
  })

  it('a missing master key for an existing store is an error, not a new key', async () => {
    const dir = tempDir()
    await generate(dir)
    const r = await apiauth(dir, ['list'], { env: { HOME: dir } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no master key: set APIAUTH_MASTER_KEY')
    expect(existsSync(join(dir, '.apiauth', 'master.key'))).toBe(false)
  })

  it('creates master.key (0600) on first use without APIAUTH_MASTER_KEY, apart from the keystore', async () => {
    const dir = tempDir()
    const { key } = await generate(dir, [], { env: { HOME: dir } })
    expect(existsSync(join(dir, '.apiauth', 'master.key'))).toBe(true)
    expect((await apiauth(dir, ['verify', key], { env: { HOME: dir } })).code).toBe(0)
  })

  it('a truncated keystore is refused; recover restores the previous generation', async () => {
    const dir = tempDir()
    const a = await generate(dir)
    const b = await generate(dir)
    const ks = join(dir, '.apiauth', 'keystore.enc')
    truncateSync(ks, 40)
    const r = await apiauth(dir, ['list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`${ks} is corrupt`)
    expect(r.stderr).toContain('apiauth recover')
    const rec = await apiauth(dir, ['recover'])
    expect(rec.code).toBe(0)
    expect(rec.stdout).toContain('✓ Restored the keystore from')
    expect((await apiauth(dir, ['verify', a.key])).code).toBe(0)
    expect((await apiauth(dir, ['verify', b.key])).code).toBe(1) // the damaged last write is lost
    expect(readdirSync(join(dir, '.apiauth')).some((f) => f.startsWith('keystore.enc.damaged-'))).toBe(true)
    const log = (await runCli('rekey', ['audit', 'log', '--filter', 'keystore'], { cwd: dir, env: env(dir) })).stdout
    expect(log).toContain('keystore.recover')
    expect((await apiauth(dir, ['recover'])).code).toBe(1)
  })

  it('fails the change when the audit log cannot be written', async () => {
    const dir = tempDir()
    await generate(dir)
    const auditPath = join(dir, '.apiauth', 'audit.jsonl')
    writeFileSync(auditPath, readFileSync(auditPath, 'utf8') + '{broken\n')
    const before = readFileSync(join(dir, '.apiauth', 'keystore.enc'))
    const r = await generate(dir).catch(() => undefined)
    expect(r).toBeUndefined()
    expect(readFileSync(join(dir, '.apiauth', 'keystore.enc')).equals(before)).toBe(true)
  })

  it('canary: a planted key appears only on the generate and rotate lines', async () => {
    const dir = tempDir()
    const canary = `ak_CANARY${randomBytes(16).toString('hex')}`
    const imp = await apiauth(dir, ['import', '-', '--name', 'canary', '--service', 'canary-svc'], { input: `${canary}\n` })
    expect(imp.code).toBe(0)
    const id = /Imported key (\w+)/.exec(imp.stdout)![1]!
    const outputs: string[] = [imp.stdout, imp.stderr]
    for (const argv of [['verify', canary], ['verify', canary, '--json'], ['show', id], ['show', id, '--json'], ['list'], ['list', '--json'], ['history', id], ['stats'], ['audit'], ['export'], ['export', '--format', 'json'], ['export', '--format', 'github-actions']]) {
      const r = await apiauth(dir, argv)
      outputs.push(r.stdout, r.stderr)
    }
    const rot = await apiauth(dir, ['rotate', id])
    const newKey = /New key: (\S+)/.exec(rot.stdout)![1]!
    outputs.push(rot.stderr, rot.stdout.replace(`  New key: ${newKey}\n`, ''))
    const tail = canary.slice(-4)
    for (const argv of [['audit', 'log'], ['audit', 'log', '--json'], ['audit', 'export'], ['audit', 'export', '--format', 'json']]) {
      const r = await runCli('rekey', argv, { cwd: dir, env: env(dir) })
      outputs.push(r.stdout, r.stderr)
    }
    const files = readdirSync(join(dir, '.apiauth')).map((f) => readFileSync(join(dir, '.apiauth', f)).toString('latin1'))
    for (const text of [...outputs, ...files]) {
      expect(text).not.toContain(canary)
      expect(text).not.toContain(canary.slice(3, 23)) // not even the random part's start (prefix_shown excepted below)
      expect(text).not.toContain(newKey)
    }
    // the audit log holds at most the last four characters
    expect(readFileSync(join(dir, '.apiauth', 'audit.jsonl'), 'utf8')).toContain(`…${tail}`)
  })
})

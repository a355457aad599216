import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DIST, spawnBin, tempDir } from '../helpers/cli.js'

// A planted secret that must never show up in output, logs, errors or the audit log, except
// where printing it is the command's purpose (get, export, an authorised serve response).
const CANARY = 'CanaryS3cret-7f3a9c1e'
const CANARY_PW = 'UrlCanaryPw-55aa'

describe('the secret canary', () => {
  it('never appears in diff, sync, rotate, list, audit-log, the audit file or serve logs', async () => {
    const dir = tempDir('envault-canary-')
    writeFileSync(join(dir, '.envault.yml'), 'project: p\nenvironments:\n  dev: .env.dev\n  prod: .env.prod\n')
    writeFileSync(join(dir, '.env.dev'), `DB_PASSWORD=${CANARY}\nSTRIPE_API_KEY=sk_live_${CANARY}\nDATABASE_URL=postgres://app:${CANARY_PW}@db/app\nLOG_LEVEL=debug\n`)
    writeFileSync(join(dir, '.env.prod'), 'DB_PASSWORD=other-password-1\nLOG_LEVEL=warn\n')
    const env = { REKEY_ACTOR: 'ci-bot', ENVAULT_MASTER_KEY: 'c'.repeat(64), REKEY_DEBUG: '1' }
    const ev = (...args: string[]) => spawnBin('envault', args, { cwd: dir, env })
    const seen: string[] = []
    const check = (label: string, s: string) => {
      seen.push(label)
      expect(s, label).not.toContain(CANARY)
      expect(s, label).not.toContain(CANARY_PW)
    }
    for (const args of [
      ['diff', 'dev', 'prod'],
      ['diff', 'dev', 'prod', '--json'],
      ['diff-files', '.env.dev', '.env.prod'],
      ['sync', 'dev', 'prod', '--dry-run'],
      ['sync', 'dev', 'prod', '--dry-run', '--json'],
      ['list', '--env', 'dev'],
      ['rotate', 'DATABASE_URL', '--env', 'dev', '--dry-run'],
      ['sync', 'dev', 'prod'],
      ['encrypt', '--env', 'prod'],
      ['sync', 'dev', 'prod', '--strategy', 'error'],
      ['set', 'DB_PASSWORD', '-', '--env', 'prod'],
    ]) {
      const r = await ev(...args)
      check(`${args.join(' ')} stdout`, r.stdout)
      check(`${args.join(' ')} stderr`, r.stderr)
    }
    const exp = await ev('export', '--env', 'dev', '--format', 'dotenv')
    expect(exp.stdout).toContain(CANARY) // export exists to print values
    check('export stderr', exp.stderr)
    // rotate replaces the canary everywhere and does not print the new value without --show
    const rot = await ev('rotate', 'DB_PASSWORD')
    check('rotate stdout', rot.stdout)
    const newPw = /DB_PASSWORD=(.*)/.exec(readFileSync(join(dir, '.env.dev'), 'utf8'))![1]!.replace(/^'|'$/g, '')
    expect(rot.stdout).not.toContain(newPw)
    // serve: the authorised response carries the value; logs, 401s and the audit log do not
    const child = spawn(process.execPath, [join(DIST, 'cli', 'envault.js'), 'serve', '--env', 'dev', '--port', '0', '--api-key', 'tok-123', '--json'], { cwd: dir, env: { ...env, PATH: process.env.PATH ?? '' } })
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const url = await new Promise<string>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        const m = /"url":"([^"]+)"/.exec(out)
        if (m) resolve(m[1]!)
      }),
    )
    const ok = await fetch(`${url}/secrets/STRIPE_API_KEY`, { headers: { authorization: 'Bearer tok-123' } })
    expect(((await ok.json()) as { value: string }).value).toBe(`sk_live_${CANARY}`)
    const denied = await fetch(`${url}/secrets/STRIPE_API_KEY`, { headers: { authorization: 'Bearer wrong' } })
    expect(denied.status).toBe(401)
    check('serve 401 body', await denied.text())
    const list = await fetch(`${url}/secrets`, { headers: { authorization: 'Bearer tok-123' } })
    check('serve list body', await list.text())
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(code).toBe(0)
    check('serve stdout', out)
    check('serve stderr', err)
    const log = await ev('audit-log')
    check('audit-log', log.stdout)
    check('audit-log --json', (await ev('audit-log', '--json')).stdout)
    expect(log.stdout).toMatch(/READ STRIPE_API_KEY env=dev user=ci-bot/)
    const auditFile = readFileSync(join(dir, '.envault-audit.log'), 'utf8')
    check('audit file', auditFile)
    expect(auditFile).not.toContain(newPw)
    expect(seen.length).toBeGreaterThan(20)
  })
})

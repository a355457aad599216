import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, UnsecuredJWT } from 'jose'
import { spawnBin } from '../helpers/cli.js'
import { sandbox } from './apiauth-helpers.js'

const run = (args: string[], env: Record<string, string>, input?: string) => spawnBin('apiauth', args, { env, ...(input === undefined ? {} : { input }) })

describe('apiauth safety, on the built bin', () => {
  it('starts, reports its version and refuses bad flags with exit 2', async () => {
    const sb = sandbox()
    expect(await run(['--version'], sb.env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) })
    const bad = await run(['rotate'], sb.env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("missing required argument 'id'")
    const dur = await run(['rotate', 'abcdefabcdef', '--grace', 'forever'], sb.env)
    expect(dur).toMatchObject({ code: 2, stderr: expect.stringContaining('invalid --grace "forever"') })
  })

  it('keeps the key directory private: 0700 directory, 0600 files', async () => {
    const sb = sandbox()
    expect((await run(['generate', 'api-key', '--name', 'n', '--service', 's'], { ...sb.env, APIAUTH_MASTER_KEY: '' })).code).toBe(0)
    expect(statSync(sb.keyDir).mode & 0o777).toBe(0o700)
    for (const f of readdirSync(sb.keyDir)) {
      const st = statSync(join(sb.keyDir, f))
      if (st.isFile()) expect(st.mode & 0o777, f).toBe(0o600)
    }
    expect(readdirSync(sb.keyDir).sort()).toEqual(['audit.jsonl', 'keystore.enc', 'master.key'])
  })

  it('a wrong master key, a flipped bit and a truncated file each fail clearly and leave the file as it was; recover restores', async () => {
    const sb = sandbox()
    const a = JSON.parse((await run(['generate', 'api-key', '--name', 'a', '--service', 's', '--json'], sb.env)).stdout) as { id: string; key: string }
    await run(['generate', 'api-key', '--name', 'b', '--service', 's'], sb.env)
    const ks = join(sb.keyDir, 'keystore.enc')
    const good = readFileSync(ks)
    const wrong = await run(['list'], { ...sb.env, APIAUTH_MASTER_KEY: randomBytes(32).toString('base64') })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr.split('\n')[0]).toBe(`error: cannot decrypt ${ks}: wrong master key, or the data was altered`)
    expect(readFileSync(ks).equals(good)).toBe(true)

    const doc = JSON.parse(good.toString()) as { data: string }
    const raw = Buffer.from(doc.data, 'base64')
    raw[40]! ^= 0x01
    writeFileSync(ks, JSON.stringify({ ...doc, data: raw.toString('base64') }))
    const flipped = await run(['verify', a.key], sb.env)
    expect(flipped.code).toBe(1)
    expect(flipped.stderr).toContain(`cannot decrypt ${ks}`)

    writeFileSync(ks, good)
    truncateSync(ks, Math.floor(good.length / 2))
    const damaged = readFileSync(ks)
    const trunc = await run(['rotate', a.id], sb.env)
    expect(trunc.code).toBe(1)
    expect(trunc.stderr).toContain(`${ks} is corrupt`)
    expect(trunc.stderr).toContain('hint: "apiauth recover"')
    expect(readFileSync(ks).equals(damaged)).toBe(true)

    const rec = await run(['recover'], sb.env)
    expect(rec.code, rec.stderr).toBe(0)
    expect((await run(['verify', a.key], sb.env)).code).toBe(0)
  })

  it('a forged JWT and an alg:none JWT are INVALID', async () => {
    const sb = sandbox()
    const g = JSON.parse((await run(['generate', 'jwt', '--name', 't', '--service', 's', '--json'], sb.env)).stdout) as { id: string; key: string }
    expect((await run(['verify', g.key], sb.env)).code).toBe(0)
    const claims = { sub: g.id, jti: `${g.id}.v1`, iss: 'apiauth' }
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(randomBytes(32))
    const none = new UnsecuredJWT(claims).encode()
    for (const t of [forged, none]) expect(await run(['verify', t], sb.env)).toMatchObject({ code: 1, stdout: '✗ Key is INVALID\n' })
  })

  it('canary: a generated key appears only on its own generate/rotate line, never in other output, errors or files', async () => {
    const sb = sandbox()
    const g = await run(['generate', 'api-key', '--name', 'canary', '--service', 'canary-svc', '--prefix', 'canary'], sb.env)
    const id = /API key (\w+)/.exec(g.stdout)![1]!
    const key = /Key: (\S+)/.exec(g.stdout)![1]!
    expect(g.stdout.split('\n').filter((l) => l.includes(key))).toEqual([`  Key: ${key}`])
    const texts: string[] = [g.stderr]
    for (const args of [['verify', key], ['verify', '-'], ['show', id], ['list', '--json'], ['history', id], ['audit'], ['export', '--format', 'json'], ['verify', key + 'x'], ['import', key, '--name', 'dup', '--service', 's']]) {
      const r = await run(args, sb.env, `${key}\n`)
      texts.push(r.stdout, r.stderr)
    }
    const rot = await run(['rotate', id], sb.env)
    const k2 = /New key: (\S+)/.exec(rot.stdout)![1]!
    expect(rot.stdout.split('\n').filter((l) => l.includes(k2))).toEqual([`  New key: ${k2}`])
    texts.push(rot.stderr, rot.stdout.replace(`  New key: ${k2}`, ''))
    for (const args of [['audit', 'log', '--json'], ['audit', 'export']]) {
      const r = await spawnBin('rekey', args, { env: sb.env })
      texts.push(r.stdout, r.stderr)
    }
    for (const f of readdirSync(sb.keyDir)) texts.push(readFileSync(join(sb.keyDir, f)).toString('latin1'))
    for (const t of texts) {
      expect(t).not.toContain(key)
      expect(t).not.toContain(k2)
      expect(t).not.toContain(key.slice(7, 27)) // no long piece of the random part either
    }
  })
})

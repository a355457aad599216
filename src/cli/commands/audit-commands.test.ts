import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createJsonlAuditLog } from '../../adapters/file/audit-jsonl.js'
import { createFakeClock } from '../../adapters/system/system.js'
import { runCli, tempDir } from '../../../test/helpers/cli.js'

const MASTER = 'c'.repeat(64)

async function setup() {
  const dir = tempDir()
  const env = { HOME: dir, APIAUTH_MASTER_KEY: MASTER, REKEY_ACTOR: 'alice' }
  const clock = createFakeClock('2026-03-01T00:00:00Z')
  const g = await runCli('apiauth', ['generate', 'api-key', '--name', 'n', '--service', 'api-gateway'], { cwd: dir, env, clock })
  const id = /API key (\w+)/.exec(g.stdout)![1]!
  clock.advance(3_600_000)
  // the envault helper writes .envault-audit.log in the project directory, in the same format
  const envault = createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock, actor: 'bob' })
  await envault.append({ action: 'secret.rotate', target: 'DB_PASSWORD', env: 'staging', detail: { old_last4: '…aaaa', new_last4: '…bbbb', trigger: 'manual' } })
  clock.advance(3_600_000)
  await runCli('apiauth', ['rotate', id], { cwd: dir, env: { ...env, REKEY_ACTOR: 'rotation-engine' }, clock })
  const rekey = (argv: string[]) => runCli('rekey', argv, { cwd: dir, env, clock })
  return { dir, env, clock, id, rekey }
}

describe('rekey audit', () => {
  it('log merges the key directory and envault logs by time, with --since and --filter', async () => {
    const { id, rekey } = await setup()
    const log = await rekey(['audit', 'log'])
    expect(log.code).toBe(0)
    const lines = log.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(new RegExp(`^2026-03-01T00:00:00.000Z  api_key.create  ${id}  by alice  ok  `))
    expect(lines[1]).toMatch(/^2026-03-01T01:00:00.000Z {2}secret.rotate {2}DB_PASSWORD@staging {2}by bob {2}ok/)
    expect(lines[2]).toContain('api_key.rotate')
    expect((await rekey(['audit', 'log', '--since', '30m'])).stdout.trim().split('\n')).toHaveLength(1)
    expect((await rekey(['audit', 'log', '--since', '2026-03-01T00:30:00Z'])).stdout.trim().split('\n')).toHaveLength(2)
    expect((await rekey(['audit', 'log', '--filter', 'rotate', '--json'])).stdout).toSatisfy((s: string) => JSON.parse(s).length === 2)
    const bad = await rekey(['audit', 'log', '--since', 'yesterday'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('invalid --since "yesterday"')
  })

  it('export --format csv has the compliance columns; json has the events', async () => {
    const { id, rekey } = await setup()
    const csv = (await rekey(['audit', 'export', '--format', 'csv'])).stdout
    const rows = csv.trimEnd().split('\r\n')
    expect(rows[0]).toBe('timestamp,secret,target,old_last4,new_last4,triggered_by,status,action')
    expect(rows[2]).toBe('2026-03-01T01:00:00.000Z,DB_PASSWORD,staging,…aaaa,…bbbb,manual:bob,success,secret.rotate')
    expect(rows[3]).toMatch(new RegExp(`^2026-03-01T02:00:00.000Z,${id},,…....,…....,manual:rotation-engine,success,api_key.rotate$`))
    const json = JSON.parse((await rekey(['audit', 'export', '--format', 'json', '--since', '59m'])).stdout)
    expect(json).toHaveLength(1)
    expect(json[0]).toMatchObject({ action: 'api_key.rotate', target: id, prev: expect.any(String), hash: expect.any(String) })
    expect((await rekey(['audit', 'export', '--format', 'xml'])).code).toBe(2)
  })

  it('verify passes on intact chains and names the file and record on a break', async () => {
    const { dir, rekey } = await setup()
    const ok = await rekey(['audit', 'verify'])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('2 events, chain intact')
    expect(ok.stdout).toContain('1 events, chain intact')
    const file = join(dir, '.apiauth', 'audit.jsonl')
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    writeFileSync(file, lines[1] + '\n') // the first event deleted
    const broken = await rekey(['audit', 'verify'])
    expect(broken.code).toBe(1)
    expect(broken.stdout).toContain(`✗ ${file}: chain broken at record 1`)
    const env = join(dir, '.envault-audit.log')
    writeFileSync(env, readFileSync(env, 'utf8').replace('staging', 'prod'))
    const both = await rekey(['audit', 'verify', '--json'])
    expect(JSON.parse(both.stdout)).toMatchObject({ ok: false, logs: [{ ok: false }, { ok: false, brokenAt: 1 }] })
  })

  it('reports an empty history plainly', async () => {
    const dir = tempDir()
    const r = await runCli('rekey', ['audit', 'log'], { cwd: dir, env: { HOME: dir } })
    expect(r).toMatchObject({ code: 0, stdout: 'No audit events.\n' })
    expect((await runCli('rekey', ['audit', 'verify'], { cwd: dir, env: { HOME: dir } })).code).toBe(0)
  })
})

import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { serviceAvailable } from '../helpers/services.js'
import { ENVS, envValue, isValid, sha16, writeProject } from './rekey-helpers.js'
import { pgEnv } from './serve-helpers.js'

/**
 * Several `rekey` installations (two project folders, as on two hosts) sharing one PostgreSQL
 * through REKEY_DATABASE_URL behave as one: one run per secret across them, each due rotation
 * and notice done once, and a run whose process was killed finished by the other's tick. The
 * rotation state lives in the database, not in either folder's .rekey/.
 */
const SECRET = 'API_TOKEN'
const NOTICE = 'NOTICE_TOKEN'
const DAY = 86_400_000

/** A shared "infrastructure" folder (env files, credential scripts) and two project folders using it. */
function twoHosts(initial: string, o: { slowCreate?: boolean; notice?: boolean } = {}) {
  const shared = tempDir()
  writeProject(shared, { secret: SECRET, initial })
  if (o.slowCreate) {
    const create = join(shared, 'create.sh')
    writeFileSync(create, readFileSync(create, 'utf8').replace('set -e\n', 'set -e\nsleep 1\n'))
  }
  let policy = readFileSync(join(shared, 'rekey.yml'), 'utf8').replaceAll('./', `${shared}/`)
  if (o.notice) {
    policy = policy.replace(
      'notify:',
      [`  ${NOTICE}:`, '    provider: command', `    create: ${shared}/create.sh`, `    revoke_command: ${shared}/revoke.sh`, '    targets: [staging, prod, dev]', '    schedule: every 30d', '    notice: 7d', 'notify:'].join('\n'),
    )
  }
  const hosts = ['host-a', 'host-b'].map((h) => {
    const dir = join(tempDir(), h)
    mkdirSync(dir)
    writeFileSync(join(dir, '.envault.yml'), ['project: e2e', 'environments:', ...ENVS.map((e) => `  ${e}: ${shared}/.env.${e}`), ''].join('\n'))
    writeFileSync(join(dir, 'rekey.yml'), policy)
    return dir
  })
  return { shared, a: hosts[0]!, b: hosts[1]! }
}

function targetsAgreeAndWork(shared: string): string {
  const values = ENVS.map((e) => envValue(shared, e, SECRET))
  expect(new Set(values).size).toBe(1)
  expect(isValid(shared, values[0])).toBe(true)
  return values[0]!
}

describe.skipIf(!(await serviceAvailable('postgres')))('two rekey installations on one PostgreSQL (REKEY_DATABASE_URL)', () => {
  it('concurrent "rekey rotate" of one secret from both: one run; the other is refused naming it', async () => {
    const db = await pgEnv()
    const initial = 'initial-value-cli-0001'
    const { shared, a, b } = twoHosts(initial, { slowCreate: true })
    const env = { ...db.env, REKEY_VERIFY_RETRY_MS: '0' }
    const [ra, rb] = await Promise.all([spawnBin('rekey', ['rotate', SECRET], { cwd: a, env }), spawnBin('rekey', ['rotate', SECRET], { cwd: b, env })])
    const ok = [ra, rb].filter((r) => r.code === 0)
    const refused = [ra, rb].filter((r) => r.code !== 0)
    expect(ok).toHaveLength(1)
    expect(refused).toHaveLength(1)
    expect(refused[0]!.code).toBe(1)
    const runs = (await db.pool.query<{ id: string; state: string; doc: { sealed: string | null } }>('SELECT id, state, doc FROM rotation_runs')).rows
    expect(runs).toHaveLength(1)
    expect(runs[0]!.state).toBe('done')
    expect(refused[0]!.stderr).toContain(`error: ${SECRET}: in progress (run ${runs[0]!.id})`)
    const value = targetsAgreeAndWork(shared)
    expect(value).not.toBe(initial)
    expect(isValid(shared, initial)).toBe(false)

    // Both folders see the same history, from the database; neither keeps runs in .rekey/.
    for (const dir of [a, b]) {
      const h = await spawnBin('rekey', ['history', SECRET, '--json'], { cwd: dir, env })
      expect(h.code).toBe(0)
      expect(JSON.stringify(JSON.parse(h.stdout))).toContain(runs[0]!.id)
      expect(existsSync(join(dir, '.rekey', 'runs'))).toBe(false)
      expect(existsSync(join(dir, '.rekey', 'due.json'))).toBe(false)
      expect(existsSync(join(dir, '.envault-audit.log'))).toBe(false)
    }
    // The audit trail is in the database; no value (old or new) is in it or in the journal.
    const audit = (await db.pool.query<{ action: string }>("SELECT action FROM audit_events WHERE target = $1 AND action LIKE 'rotation.%' ORDER BY seq", [SECRET])).rows.map((r) => r.action)
    expect(audit).toEqual(['rotation.start', 'rotation.stage', 'rotation.stage', 'rotation.stage', 'rotation.verify', 'rotation.promote', 'rotation.revoke'])
    const dump = JSON.stringify((await db.pool.query('SELECT * FROM rotation_runs')).rows) + JSON.stringify((await db.pool.query('SELECT * FROM audit_events')).rows) + JSON.stringify((await db.pool.query('SELECT * FROM rotation_states')).rows)
    expect(dump).not.toContain(initial)
    expect(dump).not.toContain(value)
    // The audit commands of either host read the database's chain.
    const verify = await spawnBin('rekey', ['audit', 'verify'], { cwd: b, env })
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/^✓ the database postgres:\/\/.+ \(schema rk_t_[0-9a-f]+\): \d+ events, chain intact$/m)
    const csv = await spawnBin('rekey', ['audit', 'export', '--format', 'csv', '--since', '1d'], { cwd: a, env })
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout.split('\r\n')[0]).toBe('timestamp,secret,target,old_last4,new_last4,triggered_by,status,action')
    expect(csv.stdout).toContain(`${SECRET},prod,`)
    expect(csv.stdout).not.toContain(value)
  })

  it('"rekey tick" from both with one due rotation and one due notice: each is done once', async () => {
    const db = await pgEnv()
    const initial = 'initial-value-cli-0002'
    const { shared, a, b } = twoHosts(initial, { notice: true })
    const env = { ...db.env, REKEY_VERIFY_RETRY_MS: '0' }
    // rekey first saw API_TOKEN 40 days ago (due: every 30d) and NOTICE_TOKEN 25 days ago (notice 7d before day 30).
    const seen = (days: number) => new Date(Date.now() - days * DAY).toISOString()
    for (const [secret, days] of [[SECRET, 40], [NOTICE, 25]] as const) {
      const state = { secret, first_seen_at: seen(days), last_rotated_at: null, current_id: null, last_run: null, last_result: null, active_run: null, postponed_until: null, watch: null, notified: [] }
      await db.pool.query('INSERT INTO rotation_states (secret, doc) VALUES ($1, $2)', [secret, JSON.stringify(state)])
    }
    const [ta, tb] = await Promise.all([spawnBin('rekey', ['tick', '--json'], { cwd: a, env }), spawnBin('rekey', ['tick', '--json'], { cwd: b, env })])
    expect([ta.code, tb.code]).toEqual([0, 0])
    const results = [ta, tb].map((t) => JSON.parse(t.stdout) as { rotated: { secret: string; state: string }[]; notices: string[]; failed: unknown[] })
    expect(results.flatMap((r) => r.rotated)).toEqual([expect.objectContaining({ secret: SECRET, state: 'done' })])
    expect(results.flatMap((r) => r.notices)).toEqual([NOTICE])
    expect(results.flatMap((r) => r.failed)).toEqual([])
    expect((await db.pool.query('SELECT id FROM rotation_runs')).rows).toHaveLength(1)
    const notices = (await db.pool.query("SELECT target FROM audit_events WHERE action = 'rotation.notice'")).rows
    expect(notices).toEqual([{ target: NOTICE }])
    const logs = [a, b].map((d) => join(d, '.rekey', 'notifications.log')).filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'))
    expect(logs.join('').match(/Upcoming key rotation/g)).toHaveLength(1)
    expect(logs.join('').match(/Key rotation started/g)).toHaveLength(1)
    targetsAgreeAndWork(shared)

    // Nothing is due any more, from either folder.
    for (const dir of [a, b]) {
      const again = await spawnBin('rekey', ['tick', '--json'], { cwd: dir, env })
      expect(JSON.parse(again.stdout)).toMatchObject({ rotated: [], notices: [], resumed: [] })
    }
    expect((await db.pool.query('SELECT id FROM rotation_runs')).rows).toHaveLength(1)
  })

  const CRASHES = [
    { name: 'while creating the credential', hook: 'create', fail: false, end: 'done' },
    { name: 'while rolling back a failed verification', hook: 'revoke', fail: true, end: 'rolled_back' },
  ] as const
  for (const c of CRASHES) {
    it(`a rotate SIGKILLed ${c.name} on one host is refused there and finished by the other host's tick (${c.end})`, async () => {
      const db = await pgEnv()
      const initial = `initial-value-cli-crash-${c.hook}`
      const { shared, a, b } = twoHosts(initial)
      const env = { ...db.env, REKEY_VERIFY_RETRY_MS: '0' }
      writeFileSync(join(shared, `crash.${c.hook}`), '')
      if (c.fail) writeFileSync(join(shared, 'fail.test'), sha16(initial))
      const killed = await spawnBin('rekey', ['rotate', SECRET], { cwd: a, env })
      expect(killed.code).toBe(128) // SIGKILL, by the provider's script
      expect(existsSync(join(shared, `crash.${c.hook}`))).toBe(false)
      targetsAgreeAndWork(shared)
      const run = (await db.pool.query<{ id: string; state: string }>('SELECT id, state FROM rotation_runs')).rows
      expect(run).toHaveLength(1)
      expect(['done', 'rolled_back']).not.toContain(run[0]!.state)
      // The killed run still holds the secret, on every host.
      const again = await spawnBin('rekey', ['rotate', SECRET], { cwd: b, env })
      expect(again.code).toBe(1)
      expect(again.stderr).toContain(`error: ${SECRET}: in progress (run ${run[0]!.id})`)
      // The other host's tick takes the run over (the dead process's session lock went with its connection).
      let state = ''
      for (let i = 0; i < 20 && state !== c.end; i++) {
        const t = await spawnBin('rekey', ['tick', '--json'], { cwd: b, env })
        expect(t.stderr).not.toContain('internal error')
        state = (await db.pool.query<{ state: string }>('SELECT state FROM rotation_runs WHERE id = $1', [run[0]!.id])).rows[0]!.state
      }
      expect(state).toBe(c.end)
      const value = targetsAgreeAndWork(shared)
      if (c.end === 'rolled_back') {
        expect(value).toBe(initial)
        expect(readdirSync(join(shared, 'valid'))).toHaveLength(1)
      } else {
        expect(value).not.toBe(initial)
        expect(isValid(shared, initial)).toBe(false)
      }
      const status = await spawnBin('rekey', ['status', '--json'], { cwd: a, env })
      expect(status.code).toBe(0)
      expect(status.stdout).toContain(c.end === 'done' ? 'succeeded' : 'rolled_back')
      expect((await db.pool.query('SELECT * FROM rotation_locks')).rows).toEqual([])
    })
  }
})

describe.skipIf(!(await serviceAvailable('postgres')))('REKEY_DATABASE_URL: bad database settings and the quickstart', () => {
  it('an unmigrated schema, a missing or wrong master key: one clear line, non-zero, nothing written', async () => {
    const db = await pgEnv()
    const { a } = twoHosts('initial-value-cli-bad')
    const unmigrated = await spawnBin('rekey', ['status'], { cwd: a, env: { ...db.env, REKEY_DATABASE_SCHEMA: 'rk_t_never_migrated' } })
    expect(unmigrated.code).toBe(2)
    expect(unmigrated.stderr).toMatch(/^error: the database postgres:\/\/.+ \(schema rk_t_never_migrated\) is at migration 0, this version needs \d+$/m)
    expect(unmigrated.stderr).toContain('rekey db migrate')
    const noKey = await spawnBin('rekey', ['rotate', SECRET], { cwd: a, env: { ...db.env, REKEY_MASTER_KEY: '' } })
    expect(noKey.code).not.toBe(0)
    expect(noKey.stderr).toContain('error: no master key: set REKEY_MASTER_KEY')
    const ok = await spawnBin('rekey', ['status'], { cwd: a, env: db.env }) // sets up the data key with the right master key
    expect(ok.code, ok.stderr).toBe(0)
    const wrong = await spawnBin('rekey', ['rotate', SECRET], { cwd: a, env: { ...db.env, REKEY_MASTER_KEY: 'f'.repeat(64) } })
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr).toContain("does not open the database's data key")
    expect(wrong.stderr).not.toContain('f'.repeat(16))
    const badUrl = await spawnBin('rekey', ['plan'], { cwd: a, env: { ...db.env, REKEY_DATABASE_URL: 'mysql://root@127.0.0.1/test' } })
    expect(badUrl.code).toBe(2)
    expect(badUrl.stderr).toContain('REKEY_DATABASE_URL must be a postgres:// URL')
    expect((await db.pool.query('SELECT id FROM rotation_runs')).rows).toEqual([])
    expect(existsSync(join(a, '.rekey', 'runs'))).toBe(false)
  })

  it('the quickstart stays on the embedded file backend', async () => {
    const db = await pgEnv()
    const cwd = tempDir()
    const r = await spawnBin('rekey', ['quickstart', 'demo', '--json'], { cwd, env: db.env })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'done', new_key_accepted: true, old_key_rejected: true })
    expect(r.stderr).toContain('ran on the embedded file backend although REKEY_DATABASE_URL is set')
    expect(readdirSync(join(cwd, 'demo', '.rekey', 'runs'))).toHaveLength(1)
    expect(existsSync(join(cwd, 'demo', 'keys', 'keystore.enc'))).toBe(true)
    for (const t of ['rotation_runs', 'rotation_states', 'api_keys', 'audit_events']) expect((await db.pool.query(`SELECT 1 FROM ${t}`)).rows).toEqual([])
  })
})

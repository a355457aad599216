import { spawn } from 'node:child_process'
import { describe, expect, it, onTestFinished } from 'vitest'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import type { RotationRun } from '../../core/rotation/rotation-state.js'
import type { SecretState } from '../../core/rotation/ports.js'
import { lockId } from './db.js'
import { createPgJournal } from './journal.js'
import { freshSchema } from './test-schema.js'

const run = (id: string, secret: string, created: string): RotationRun => ({ id, secret, state: 'scheduled', created_at: created, updated_at: created }) as unknown as RotationRun

describe.skipIf(!(await serviceAvailable('postgres')))('PostgreSQL rotation journal', () => {
  it('stores runs, states and the due-index', async () => {
    const s = await freshSchema(PG_URL)
    onTestFinished(() => s.drop())
    const j = createPgJournal(s.pool)
    await j.saveRun(run('rot_00000002', 'B', '2026-01-02T00:00:00Z'))
    await j.saveRun(run('rot_00000001', 'A', '2026-01-01T00:00:00Z'))
    await j.saveRun({ ...run('rot_00000001', 'A', '2026-01-01T00:00:00Z'), state: 'creating' })
    expect((await j.getRun('rot_00000001'))?.state).toBe('creating')
    expect(await j.getRun('nope')).toBeUndefined()
    expect((await j.listRuns()).map((r) => r.id)).toEqual(['rot_00000001', 'rot_00000002'])
    expect((await j.listRuns('B')).map((r) => r.id)).toEqual(['rot_00000002'])
    const st = { secret: 'A', first_seen_at: 'x', last_rotated_at: null, current_id: null, last_run: null, last_result: null, active_run: null, postponed_until: null, watch: null, notified: [] } satisfies SecretState
    await j.putState(st)
    await j.putState({ ...st, last_result: 'succeeded' })
    expect((await j.getState('A'))?.last_result).toBe('succeeded')
    expect((await j.listStates()).length).toBe(1)
    await j.updateDue(new Map([['A', { at: 5, fp: 'f', seen: 's' }], ['B', { at: null, fp: 'g', seen: 's' }]]))
    await j.updateDue(new Map([['B', null]]))
    expect([...(await j.readDue())]).toEqual([['A', { at: 5, fp: 'f', seen: 's' }]])
  })

  it('lets one instance rotate a secret at a time, naming the holder, and frees the lock of a killed instance', async () => {
    const s = await freshSchema(PG_URL)
    onTestFinished(() => s.drop())
    const a = createPgJournal(s.pool, { instance: 'inst_a' })
    const b = createPgJournal(s.pool, { instance: 'inst_b' })
    let release!: () => void
    const held = a.withSecretLock('STRIPE', 'rot_aaaaaaaa', () => new Promise<void>((r) => (release = r)))
    await new Promise((r) => setTimeout(r, 50))
    await expect(b.withSecretLock('STRIPE', 'rot_bbbbbbbb', async () => 1)).rejects.toMatchObject({ code: 'IN_PROGRESS', message: 'STRIPE: in progress (run rot_aaaaaaaa)' })
    release()
    await held
    expect(await b.withSecretLock('STRIPE', 'rot_bbbbbbbb', async () => 2)).toBe(2)

    // Another process takes the lock and is killed with SIGKILL: PostgreSQL frees it.
    const id = lockId(s.schema, 'rotation:STRIPE')
    const code = `const pg=require('pg');const c=new pg.Client({connectionString:${JSON.stringify(PG_URL)}});c.connect().then(()=>c.query('SELECT pg_advisory_lock($1)',[${JSON.stringify(id)}])).then(()=>console.log('locked'))`
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() })
    await new Promise<void>((r) => child.stdout.on('data', () => r()))
    await expect(b.withSecretLock('STRIPE', 'rot_cccccccc', async () => 3)).rejects.toMatchObject({ code: 'IN_PROGRESS' })
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    let got: number | undefined
    for (let i = 0; i < 50 && got === undefined; i++) {
      got = await b.withSecretLock('STRIPE', 'rot_dddddddd', async () => 4).catch(() => undefined)
      if (got === undefined) await new Promise((r) => setTimeout(r, 20))
    }
    expect(got).toBe(4)
  })
})

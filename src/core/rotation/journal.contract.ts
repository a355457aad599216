import { describe, expect, it } from 'vitest'
import type { RotationJournal, SecretState } from './ports.js'
import type { RotationRun } from './rotation-state.js'

/**
 * The contract every RotationJournal keeps (the .rekey/ files, PostgreSQL). `open` gives two
 * views of one journal, as two processes or two instances on different hosts see it; the
 * engine's guarantees (one run per secret, a killed run taken over) rest on these rules.
 */
export interface JournalHarness {
  /** This process's view. */
  a: RotationJournal
  /** Another process's (or instance's) view of the same journal. */
  b: RotationJournal
  /**
   * Leaves `secret` locked for `runId` by a holder that then died without releasing it (kill -9,
   * lost host), as far as this journal can tell.
   */
  lockAndDie(secret: string, runId: string): Promise<void>
}

export function sampleRun(id: string, secret: string, created: string, over: Partial<RotationRun> = {}): RotationRun {
  return {
    id,
    secret,
    variable: secret,
    provider: 'command',
    state: 'scheduled',
    intent: null,
    trigger: 'manual',
    actor: 'tester',
    emergency: false,
    force: false,
    created_at: created,
    updated_at: created,
    old: { id: 'v1', last4: 'ab12' },
    new: null,
    sealed: 'c2VhbGVkLWJsb2I=',
    targets: [
      { env: 'staging', holds: 'old' },
      { env: 'prod', holds: 'old' },
    ],
    promoted_at: null,
    revoked_at: null,
    finished_at: null,
    error: null,
    interruption_ms: null,
    forced_revoke: false,
    steps: [{ state: 'scheduled', at: created }],
    ...over,
  }
}

export function sampleState(secret: string, over: Partial<SecretState> = {}): SecretState {
  return { secret, first_seen_at: '2026-01-01T00:00:00.000Z', last_rotated_at: null, current_id: null, last_run: null, last_result: null, active_run: null, postponed_until: null, watch: null, notified: [], ...over }
}

export function journalContract(name: string, open: () => Promise<JournalHarness>): void {
  describe(`RotationJournal contract: ${name}`, () => {
    it('stores runs: read back as written, replaced whole, listed oldest first and by secret, across views', async () => {
      const { a, b } = await open()
      expect(await a.getRun('rot_00000000')).toBeUndefined()
      expect(await a.getRun('../../etc/passwd')).toBeUndefined()
      expect(await a.listRuns()).toEqual([])
      const r2 = sampleRun('rot_00000002', 'B', '2026-01-02T00:00:00.000Z')
      const r1 = sampleRun('rot_00000001', 'A', '2026-01-01T00:00:00.000Z')
      const r3 = sampleRun('rot_00000003', 'A', '2026-01-01T00:00:00.000Z')
      for (const r of [r2, r1, r3]) await a.saveRun(r)
      const next: RotationRun = { ...r1, state: 'creating', intent: 'create', new: { id: 'v2', last4: 'cd34' }, steps: [...r1.steps, { state: 'creating', at: '2026-01-01T00:00:01.000Z', intent: 'create' }] }
      await a.saveRun(next)
      expect(await b.getRun('rot_00000001')).toEqual(next)
      expect((await b.listRuns()).map((r) => r.id)).toEqual(['rot_00000001', 'rot_00000003', 'rot_00000002'])
      expect((await b.listRuns('A')).map((r) => r.id)).toEqual(['rot_00000001', 'rot_00000003'])
      expect(await b.listRuns('nobody')).toEqual([])
    })

    it('stores per-secret state, replaced whole, listed once per secret', async () => {
      const { a, b } = await open()
      expect(await a.getState('A')).toBeUndefined()
      expect(await a.listStates()).toEqual([])
      await a.putState(sampleState('A', { active_run: 'rot_00000001', notified: ['notice:x'] }))
      await a.putState(sampleState('B'))
      const done = sampleState('A', { active_run: null, last_result: 'succeeded', last_run: 'rot_00000001', watch: { run: 'rot_00000001', id: 'v1', since: 's', until: 'u' } })
      await b.putState(done)
      expect(await a.getState('A')).toEqual(done)
      expect((await a.listStates()).map((s) => s.secret).sort()).toEqual(['A', 'B'])
    })

    it('merges due-index changes (null removes), from concurrent writers without losing one', async () => {
      const { a, b } = await open()
      expect(await a.readDue()).toEqual(new Map())
      await a.updateDue(new Map())
      await a.updateDue(
        new Map([
          ['A', { at: 5, fp: 'f1', seen: 's1' }],
          ['B', { at: null, fp: 'f2', seen: 's2' }],
        ]),
      )
      await b.updateDue(new Map([['B', null], ['C', { at: 0, fp: 'f3', seen: 's3' }]]))
      expect(Object.fromEntries(await a.readDue())).toEqual({ A: { at: 5, fp: 'f1', seen: 's1' }, C: { at: 0, fp: 'f3', seen: 's3' } })
      const big = 1_800_000_000_000 // epoch ms beyond 32 bits
      await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).updateDue(new Map([[`S${i}`, { at: big + i, fp: 'f', seen: 's' }]]))))
      const due = await b.readDue()
      for (let i = 0; i < 8; i++) expect(due.get(`S${i}`)).toEqual({ at: big + i, fp: 'f', seen: 's' })
    })

    it('locks a secret for one holder at a time: another view gets IN_PROGRESS naming the run, at once', async () => {
      const { a, b } = await open()
      let release!: () => void
      let entered!: () => void
      const inside = new Promise<void>((r) => (entered = r))
      const held = a.withSecretLock('API_KEY', 'rot_aaaaaaaa', async () => {
        entered()
        await new Promise<void>((r) => (release = r))
        return 'a'
      })
      await inside
      await expect(b.withSecretLock('API_KEY', 'rot_bbbbbbbb', async () => 'b')).rejects.toMatchObject({ code: 'IN_PROGRESS', message: 'API_KEY: in progress (run rot_aaaaaaaa)' })
      // The same process is refused too (the lock is not re-entrant), and other secrets are free.
      await expect(a.withSecretLock('API_KEY', 'rot_cccccccc', async () => 'c')).rejects.toMatchObject({ code: 'IN_PROGRESS' })
      expect(await b.withSecretLock('OTHER_KEY', 'rot_dddddddd', async () => 'other')).toBe('other')
      release()
      expect(await held).toBe('a')
      expect(await b.withSecretLock('API_KEY', 'rot_bbbbbbbb', async () => 'b')).toBe('b')
    })

    it('releases the lock when the holder throws, and passes the error on', async () => {
      const { a, b } = await open()
      const boom = new Error('step failed')
      await expect(a.withSecretLock('API_KEY', 'rot_aaaaaaaa', async () => Promise.reject(boom))).rejects.toBe(boom)
      expect(await b.withSecretLock('API_KEY', 'rot_bbbbbbbb', async () => 1)).toBe(1)
    })

    it('of six simultaneous takers on two views exactly one gets the lock', async () => {
      const { a, b } = await open()
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      let entered = 0
      let refused = 0
      const takers = Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? a : b)
          .withSecretLock('RACE', `rot_0000000${i}`, async () => {
            entered++
            await gate
          })
          .catch((e: { code?: string }) => {
            if (e.code !== 'IN_PROGRESS') throw e
            refused++
          }),
      )
      while (entered + refused < 6 && refused < 5) await new Promise((r) => setTimeout(r, 5))
      expect(refused).toBe(5)
      expect(entered).toBe(1)
      release()
      await Promise.all(takers)
    })

    it('a lock left by a holder that died is taken over', async () => {
      const h = await open()
      await h.lockAndDie('DEAD_KEY', 'rot_deadbeef')
      let got: string | undefined
      for (let i = 0; i < 100 && got === undefined; i++) {
        got = await h.b.withSecretLock('DEAD_KEY', 'rot_bbbbbbbb', async () => 'taken').catch((e: { code?: string }) => {
          if (e.code !== 'IN_PROGRESS') throw e
          return undefined
        })
        if (got === undefined) await new Promise((r) => setTimeout(r, 20))
      }
      expect(got).toBe('taken')
    })
  })
}

import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFileJournal } from '../adapters/file/journal-file.js'
import { createMemoryNotifier } from '../adapters/notifiers/notifiers.js'
import { createMemoryProvider } from '../adapters/providers/memory-provider.js'
import { createFakeClock, systemRandom } from '../adapters/system/system.js'
import { parseRotationConfig } from '../core/rotation/policy.js'
import type { RotationJournal } from '../core/rotation/ports.js'
import { createAeadSealer } from '../core/rotation/sealer.js'
import { createMemoryTargets } from '../core/rotation/testing.js'
import { tempDir } from '../../test/helpers/cli.js'
import { createRotationEngine } from './rotation-engine.js'

/**
 * Exhaustive crash matrix at the engine level: the process "dies" right after its N-th durable
 * write (run file, state, due-index, target write) for every N until a run completes, on the
 * happy path, with a failing verification (rollback), and as an emergency rotation. After each
 * death: every target still holds a working credential. After resuming (as `rekey resume` or
 * `rekey tick` would, in a new process): the run is done or rolled back, all targets agree, the
 * value they hold works, and nothing else is left valid.
 */
const OLD = 'old-credential-value-0123456789'
type Mode = 'happy' | 'verify-fails' | 'emergency'

async function scenario(mode: Mode, dieAfter: number): Promise<{ died: boolean }> {
  const dir = tempDir()
  const clock = createFakeClock('2026-05-01T00:00:00Z')
  const provider = createMemoryProvider({ clock })
  provider.seed(OLD)
  const targets = createMemoryTargets({ a: { K: OLD }, b: { K: OLD }, c: { K: OLD } })
  const journal = createFileJournal({ dir: join(dir, '.rekey') })
  const key = randomBytes(32)
  const { policies } = parseRotationConfig({ rotations: { K: { provider: 'command', create: 'x', revoke_command: 'y', targets: ['a', 'b', 'c'], grace: '1h', revoke: { idle: '0', max: '1d' }, verify_attempts: 1 } } }, 'rekey.yml')
  const p = policies[0]!
  if (mode === 'verify-fails') {
    const orig = provider.test.bind(provider)
    provider.test = async (c) => (c.value === OLD ? orig(c) : { ok: false, reason: 'rejected' })
  }
  let writes = 0
  let dead = false
  const die = () => {
    if (dead || ++writes > dieAfter) {
      dead = true
      throw new Error('killed')
    }
  }
  const mortal = <T extends object>(o: T, methods: (keyof T)[]): T => {
    const copy = { ...o }
    for (const m of methods) {
      const f = o[m] as (...a: unknown[]) => Promise<unknown>
      ;(copy as Record<keyof T, unknown>)[m] = async (...a: unknown[]) => {
        die()
        return f.apply(o, a)
      }
    }
    return copy
  }
  const dyingJournal: RotationJournal = mortal(journal, ['saveRun', 'putState', 'updateDue'])
  const engine = (j: RotationJournal, dying: boolean) =>
    createRotationEngine({
      journal: j,
      sealer: createAeadSealer({ kind: 'raw', key, source: 'test' }, systemRandom),
      providerFor: () => provider,
      targetFor: async (env) => (dying ? mortal(await targets.open(env), ['apply']) : targets.open(env)),
      checks: { run: async () => ({ ok: true }) },
      audit: createJsonlAuditLog({ path: join(dir, 'audit.log'), clock, actor: 't' }),
      notifier: createMemoryNotifier(),
      clock,
      random: systemRandom,
      sleep: async () => undefined,
    })
  const values = () => ['a', 'b', 'c'].map((e) => targets.value(e, 'K')!)
  const works = (v: string) => provider.valid().some((c) => c.value === v)

  try {
    await engine(dyingJournal, true).rotate(p, { trigger: 'manual', actor: 't', emergency: mode === 'emergency' })
  } catch (e) {
    if ((e as Error).message !== 'killed') throw e
  }
  // At the moment of death, every consumer reading any target still has a working credential.
  for (const v of values()) expect(works(v), `after write ${dieAfter}`).toBe(true)
  if (!dead) return { died: false }

  // A new process finishes the job; a draining run needs the grace period to pass.
  const runId = (await journal.getState('K'))?.active_run ?? (await journal.listRuns('K'))[0]?.id
  if (runId) {
    const fresh = engine(journal, false)
    let out = await fresh.resume(p, runId)
    for (let i = 0; i < 3 && out.run.state === 'draining'; i++) {
      clock.advance(2 * 3_600_000)
      provider.authenticate(values()[0]!)
      out = await fresh.resume(p, runId)
    }
    const final = values()
    expect(new Set(final).size, `after write ${dieAfter}`).toBe(1)
    expect(works(final[0]!)).toBe(true)
    if (mode === 'verify-fails') {
      expect(out.run.state).toBe('rolled_back')
      expect(final[0]).toBe(OLD)
    } else {
      expect(['done', 'rolled_back']).toContain(out.run.state)
      if (out.run.state === 'done') expect(works(OLD)).toBe(false)
    }
    expect(provider.valid(), `after write ${dieAfter}: only the credential in use is left`).toHaveLength(1)
    expect((await journal.getState('K'))?.active_run ?? null).toBeNull()
  } else {
    expect(values()).toEqual([OLD, OLD, OLD])
  }
  return { died: true }
}

describe('engine crash matrix: killed after every durable write', () => {
  for (const mode of ['happy', 'verify-fails', 'emergency'] as const) {
    it(`${mode}: resume completes or rolls back from every point`, async () => {
      let n = 0
      for (; n < 80; n++) if (!(await scenario(mode, n)).died) break
      expect(n).toBeGreaterThan(10) // the run has that many crash points before it completes
    })
  }
})

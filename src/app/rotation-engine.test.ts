import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFileJournal } from '../adapters/file/journal-file.js'
import { createMemoryNotifier } from '../adapters/notifiers/notifiers.js'
import { createMemoryProvider } from '../adapters/providers/memory-provider.js'
import { createFakeClock, systemRandom } from '../adapters/system/system.js'
import { AppError } from '../core/errors.js'
import { parseRotationConfig } from '../core/rotation/policy.js'
import type { ProviderCapabilities } from '../core/rotation/ports.js'
import { createAeadSealer } from '../core/rotation/sealer.js'
import { createMemoryTargets } from '../core/rotation/testing.js'
import { tempDir } from '../../test/helpers/cli.js'
import { createRotationEngine } from './rotation-engine.js'

const OLD = 'sk_live_OLDVALUE_canary_7f3a9c'
const H = 3_600_000

function setup(o: { policy?: Record<string, unknown>; caps?: Partial<ProviderCapabilities> } = {}) {
  const dir = tempDir()
  const clock = createFakeClock('2026-03-02T10:00:00Z')
  const provider = createMemoryProvider({ clock, ...(o.caps ? { capabilities: o.caps } : {}) })
  provider.seed(OLD)
  const targets = createMemoryTargets({ staging: { STRIPE_API_KEY: OLD }, prod: { STRIPE_API_KEY: OLD }, dev: { STRIPE_API_KEY: OLD } })
  const notifier = createMemoryNotifier()
  const audit = createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock, actor: 'tester' })
  const journal = createFileJournal({ dir: join(dir, '.rekey') })
  const { policies } = parseRotationConfig(
    { rotations: { STRIPE_API_KEY: { provider: 'command', create: 'x', revoke_command: 'y', targets: ['staging', 'prod', 'dev'], schedule: 'every 90d', grace: '24h', revoke: { idle: '15m', max: '7d' }, ...o.policy } } },
    'rekey.yml',
  )
  const policy = policies[0]!
  const engine = createRotationEngine({
    journal,
    sealer: createAeadSealer({ kind: 'raw', key: randomBytes(32), source: 'test' }, systemRandom),
    providerFor: () => provider,
    targetFor: (env) => targets.open(env),
    checks: { run: async () => ({ ok: true }) },
    audit,
    notifier,
    clock,
    random: systemRandom,
    sleep: async () => undefined,
  })
  const all = () => ['staging', 'prod', 'dev'].map((e) => targets.value(e, 'STRIPE_API_KEY'))
  return { dir, clock, provider, targets, notifier, audit, journal, policy, engine, all }
}

describe('rotation engine (seed 003 scenarios)', () => {
  it('happy path: new value in every target, verified, old revoked once idle after grace', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(r.run.state).toBe('draining')
    expect(r.waiting).toMatch(/grace/)
    const [a, b, c] = t.all()
    expect(a).not.toBe(OLD)
    expect(new Set([a, b, c]).size).toBe(1)
    // grace period: both accepted
    expect(t.provider.authenticate(OLD)).toBe(true)
    expect(t.provider.authenticate(a!)).toBe(true)
    // after grace, the old one was just used: wait for idle
    t.clock.advance(25 * H)
    t.provider.authenticate(a!)
    t.provider.authenticate(OLD)
    expect((await t.engine.resume(t.policy, r.run.id)).waiting).toMatch(/old credential still in use/)
    t.clock.advance(20 * 60_000)
    t.provider.authenticate(a!)
    const done = await t.engine.resume(t.policy, r.run.id)
    expect(done.run.state).toBe('done')
    expect(t.provider.authenticate(OLD)).toBe(false)
    expect(t.provider.authenticate(a!)).toBe(true)
    const actions = (await t.audit.read()).map((e) => e.action)
    expect(actions).toEqual(['rotation.start', 'rotation.stage', 'rotation.stage', 'rotation.stage', 'rotation.verify', 'rotation.promote', 'rotation.revoke'])
    const ev = (await t.audit.read({ action: 'rotation.stage' }))[1]!
    expect(ev.env).toBe('prod')
    expect(ev.detail).toMatchObject({ trigger: 'manual', old_last4: `…${OLD.slice(-4)}`, new_last4: `…${a!.slice(-4)}`, run: r.run.id })
    expect(t.notifier.sent.map((n) => n.kind)).toEqual(['started', 'succeeded', 'revoked'])
    expect((await t.audit.verify()).ok).toBe(true)
  })

  it('revokes at revoke.max when the old credential stays in use, and says so', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'auto', actor: 'rekey' })
    for (let i = 0; i < 8; i++) {
      t.clock.advance(24 * H)
      t.provider.authenticate(OLD)
      await t.engine.resume(t.policy, r.run.id)
    }
    const run = (await t.journal.getRun(r.run.id))!
    expect(run.state).toBe('done')
    expect(run.forced_revoke).toBe(true)
    expect(t.notifier.sent.some((n) => n.kind === 'still_in_use')).toBe(true)
  })

  it('rollback: verification fails → every target back to old, new revoked, rolled_back, notified', async () => {
    const t = setup()
    const orig = t.provider.test.bind(t.provider)
    t.provider.test = async (c) => (c.value === OLD ? orig(c) : { ok: false, reason: 'HTTP 401' })
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(r.run.state).toBe('rolled_back')
    expect(r.run.error).toMatch(/verification failed: provider test: HTTP 401/)
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.provider.valid().map((c) => c.value)).toEqual([OLD])
    expect(t.notifier.sent.map((n) => n.kind)).toEqual(['started', 'failed', 'rolled_back'])
    const audit = await t.audit.read()
    expect(audit.map((e) => `${e.action}:${e.status}`)).toContain('rotation.verify:failed')
    expect(audit.at(-1)!.action).toBe('rotation.rollback')
  })

  it('rekey rollback during the grace period makes the previous credential current again', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    t.clock.advance(H)
    const back = await t.engine.rollback(t.policy, 'bob')
    expect(back.run.state).toBe('rolled_back')
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.provider.authenticate(OLD)).toBe(true)
    expect(t.provider.valid()).toHaveLength(1)
    expect((await t.journal.getState('STRIPE_API_KEY'))?.active_run).toBeNull()
    expect(r.run.id).toBe(back.run.id)
    await expect(t.engine.rollback(t.policy, 'bob')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('a check failing again during the grace period rolls back automatically', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'auto', actor: 'rekey' })
    t.clock.advance(H)
    t.provider.rejectTests.add(t.all()[0]!)
    const after = await t.engine.resume(t.policy, r.run.id)
    expect(after.run.state).toBe('rolled_back')
    expect(t.all()).toEqual([OLD, OLD, OLD])
  })

  it('rollback_on_failure off: a failed verification waits for an operator, tick does not decide for them', async () => {
    const t = setup({ policy: { rollback_on_failure: false } })
    const orig = t.provider.test.bind(t.provider)
    t.provider.test = async (c) => (c.value === OLD ? orig(c) : { ok: false, reason: 'HTTP 500' })
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(r.run.state).toBe('needs_operator')
    const NEW = t.all()[0]!
    expect(NEW).not.toBe(OLD)
    expect(t.provider.authenticate(OLD)).toBe(true)
    expect(t.provider.authenticate(NEW)).toBe(true)
    expect((await t.engine.resume(t.policy, r.run.id)).waiting).toMatch(/needs an operator/)
    expect(t.all()).toEqual([NEW, NEW, NEW])
    const op = await t.engine.resume(t.policy, r.run.id, { operator: true })
    expect(op.run.state).toBe('rolled_back')
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.notifier.sent.map((n) => n.kind)).toEqual(['started', 'failed', 'needs_operator', 'rolled_back'])
  })

  it('provider unavailable during the grace period: the run waits, it is not rolled back', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    const NEW = t.all()[0]!
    t.clock.advance(25 * H)
    t.provider.failNext('usage')
    const w = await t.engine.resume(t.policy, r.run.id)
    expect(w.run.state).toBe('draining')
    expect(w.waiting).toMatch(/^will retry: memory usage: injected failure/)
    expect(t.all()).toEqual([NEW, NEW, NEW])
    t.provider.authenticate(NEW)
    expect((await t.engine.resume(t.policy, r.run.id)).run.state).toBe('done')
  })

  it('rollback when the previous credential no longer works either: both are kept, an operator is needed', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    const NEW = t.all()[0]!
    t.provider.rejectTests.add(OLD)
    const back = await t.engine.rollback(t.policy, 'bob')
    expect(back.run.state).toBe('needs_operator')
    expect(back.run.error).toMatch(/the previous credential does not work either/)
    expect(t.all()).toEqual([NEW, NEW, NEW])
    expect(t.provider.authenticate(NEW)).toBe(true)
    expect(r.run.id).toBe(back.run.id)
  })

  it('provider outage: nothing changes, the old credential still works, the run can be retried', async () => {
    const t = setup()
    t.provider.down = true
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(r.run.state).toBe('rolled_back')
    expect(r.run.error).toMatch(/provider unavailable/)
    expect(t.all()).toEqual([OLD, OLD, OLD])
    t.provider.down = false
    expect(t.provider.authenticate(OLD)).toBe(true)
    const again = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(again.run.state).toBe('draining')
  })

  it('target outage while staging: targets already written get the old value back', async () => {
    const t = setup()
    t.targets.failWrite.add('dev')
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(r.run.state).toBe('rolled_back')
    expect(r.run.error).toMatch(/environment dev is unreachable/)
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.provider.valid().map((c) => c.value)).toEqual([OLD])
  })

  it('a target that stays down after the reads: rolled back, the others restored, the down one never touched', async () => {
    const t = setup()
    const open = t.targets.open
    let reads = 0
    const engine = createRotationEngine({
      journal: t.journal,
      sealer: createAeadSealer({ kind: 'raw', key: randomBytes(32), source: 'test' }, systemRandom),
      providerFor: () => t.provider,
      // prod answers the drift check, then goes down for good
      targetFor: async (env) => {
        const s = await open(env)
        if (env !== 'prod') return s
        return { get: async (k) => (++reads > 1 ? Promise.reject(new AppError('ADAPTER_FAILED', 'environment prod is unreachable')) : s.get(k)), apply: async () => Promise.reject(new AppError('ADAPTER_FAILED', 'environment prod is unreachable')) }
      },
      checks: { run: async () => ({ ok: true }) },
      audit: t.audit,
      notifier: t.notifier,
      clock: t.clock,
      random: systemRandom,
    })
    const r = await engine.rotate(t.policy, { trigger: 'manual', actor: 'a' })
    expect(r.run.state).toBe('rolled_back')
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.provider.valid().map((c) => c.value)).toEqual([OLD])
  })

  it('target unreachable before starting: fails naming the environment, nothing created', async () => {
    const t = setup()
    t.targets.down.add('prod')
    await expect(t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })).rejects.toThrow(/target prod: cannot read STRIPE_API_KEY/)
    expect(t.provider.valid()).toHaveLength(1)
  })

  it('drift between targets stops the rotation unless forced', async () => {
    const t = setup()
    await (await t.targets.open('dev')).apply({ set: { STRIPE_API_KEY: 'something-else-entirely' } })
    await expect(t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })).rejects.toThrow(/STRIPE_API_KEY differs between staging and dev/)
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice', force: true })
    expect(r.run.state).toBe('draining')
  })

  it('concurrent rotation of one secret: exactly one runs, the other says in progress (run …)', async () => {
    const t = setup()
    const results = await Promise.allSettled([t.engine.rotate(t.policy, { trigger: 'manual', actor: 'a' }), t.engine.rotate(t.policy, { trigger: 'manual', actor: 'b' })])
    const ok = results.filter((r) => r.status === 'fulfilled')
    const bad = results.filter((r) => r.status === 'rejected')
    expect(ok).toHaveLength(1)
    expect(String((bad[0] as PromiseRejectedResult).reason)).toMatch(/STRIPE_API_KEY: in progress \(run rot_[0-9a-f]+\)/)
    // and while it drains, a later rotate is refused too
    await expect(t.engine.rotate(t.policy, { trigger: 'manual', actor: 'c' })).rejects.toThrow(/in progress \(run rot_/)
  })

  it('emergency rotation revokes the old credential as soon as the new one is verified', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice', emergency: true })
    expect(r.run.state).toBe('done')
    expect(t.provider.authenticate(OLD)).toBe(false)
    expect(t.provider.authenticate(t.all()[0]!)).toBe(true)
  })

  it('emergency while a previous rotation drains: its grace ends now, then a new rotation revokes at once', async () => {
    const t = setup()
    const first = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    expect(first.run.state).toBe('draining')
    const MID = t.all()[0]!
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice', emergency: true })
    expect(r.run.state).toBe('done')
    expect((await t.journal.getRun(first.run.id))!.state).toBe('done')
    const NEW = t.all()[0]!
    expect(new Set([OLD, MID, NEW]).size).toBe(3)
    expect(t.provider.valid().map((c) => c.value)).toEqual([NEW])
  })

  it('single-credential providers need allow_interruption, and the interruption is measured', async () => {
    const t = setup({ caps: { dualCredential: false } })
    await expect(t.engine.rotate(t.policy, { trigger: 'manual', actor: 'a' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
    const t2 = setup({ caps: { dualCredential: false }, policy: { allow_interruption: true } })
    const r = await t2.engine.rotate(t2.policy, { trigger: 'manual', actor: 'a' })
    expect(r.run.state).toBe('done')
    expect(r.run.interruption_ms).toBe(0)
  })

  it('an audit log that cannot be written: the rotation does not start', async () => {
    const t = setup()
    const engine = createRotationEngine({
      journal: t.journal,
      sealer: createAeadSealer({ kind: 'raw', key: randomBytes(32), source: 'test' }, systemRandom),
      providerFor: () => t.provider,
      targetFor: (env) => t.targets.open(env),
      checks: { run: async () => ({ ok: true }) },
      audit: { append: async () => Promise.reject(new AppError('AUDIT_WRITE_FAILED', 'cannot write the audit log; the change was not made')) },
      notifier: t.notifier,
      clock: t.clock,
      random: systemRandom,
    })
    await expect(engine.rotate(t.policy, { trigger: 'manual', actor: 'a' })).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' })
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.provider.valid()).toHaveLength(1)
    expect(await t.journal.getState('STRIPE_API_KEY')).toBeUndefined()
  })

  it('the audit log failing in the middle of staging: everything goes back to the old value', async () => {
    const t = setup()
    let n = 0
    const engine = createRotationEngine({
      journal: t.journal,
      sealer: createAeadSealer({ kind: 'raw', key: randomBytes(32), source: 'test' }, systemRandom),
      providerFor: () => t.provider,
      targetFor: (env) => t.targets.open(env),
      checks: { run: async () => ({ ok: true }) },
      audit: { append: async (e) => (++n >= 3 ? Promise.reject(new AppError('AUDIT_WRITE_FAILED', 'disk full')) : t.audit.append(e)) },
      notifier: t.notifier,
      clock: t.clock,
      random: systemRandom,
    })
    const r = await engine.rotate(t.policy, { trigger: 'manual', actor: 'a' })
    expect(['rolled_back', 'needs_operator']).toContain(r.run.state)
    expect(t.all()).toEqual([OLD, OLD, OLD])
    expect(t.provider.authenticate(OLD)).toBe(true)
  })

  it('killed after a provider that generates its own values created one (apiauth-like): resume discards it and rolls back', async () => {
    const t = setup({ caps: { acceptsValue: false } })
    const key = randomBytes(32)
    let dead = false
    const dying = {
      ...t.journal,
      // The process "dies" on the first write after the credential was created: nothing else reaches the disk.
      saveRun: async (r: Parameters<typeof t.journal.saveRun>[0]) => {
        if (dead || r.new) {
          dead = true
          throw new Error('process killed')
        }
        return t.journal.saveRun(r)
      },
      putState: async (st: Parameters<typeof t.journal.putState>[0]) => (dead ? Promise.reject(new Error('process killed')) : t.journal.putState(st)),
    }
    const mk = (journal: typeof t.journal) =>
      createRotationEngine({ journal, sealer: createAeadSealer({ kind: 'raw', key, source: 'test' }, systemRandom), providerFor: () => t.provider, targetFor: (env) => t.targets.open(env), checks: { run: async () => ({ ok: true }) }, audit: t.audit, notifier: t.notifier, clock: t.clock, random: systemRandom, sleep: async () => undefined })
    await expect(mk(dying).rotate(t.policy, { trigger: 'manual', actor: 'a' })).rejects.toThrow('process killed')
    expect(t.provider.valid()).toHaveLength(2) // the orphan credential exists
    const runId = (await t.journal.getState('STRIPE_API_KEY'))!.active_run!
    expect((await t.journal.getRun(runId))!.state).toBe('creating')
    const r = await mk(t.journal).resume(t.policy, runId)
    expect(r.run.state).toBe('rolled_back')
    expect(r.run.error).toMatch(/interrupted while creating/)
    expect(t.provider.valid().map((c) => c.value)).toEqual([OLD])
    expect(t.all()).toEqual([OLD, OLD, OLD])
  })

  it('journal and audit never hold the secret values', async () => {
    const t = setup()
    const r = await t.engine.rotate(t.policy, { trigger: 'manual', actor: 'alice' })
    const NEW = t.all()[0]!
    const files = [join(t.dir, '.envault-audit.log'), ...readdirSync(join(t.dir, '.rekey', 'runs')).map((f) => join(t.dir, '.rekey', 'runs', f))]
    for (const f of files) {
      const text = readFileSync(f, 'utf8')
      expect(text).not.toContain(OLD)
      expect(text).not.toContain(NEW)
    }
    expect(JSON.stringify(t.notifier.sent)).not.toContain(OLD)
    expect(JSON.stringify(t.notifier.sent)).not.toContain(NEW)
    expect(r.run.sealed).toBeTruthy()
  })
})

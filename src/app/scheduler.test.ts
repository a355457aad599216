import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFileJournal } from '../adapters/file/journal-file.js'
import { createMemoryNotifier } from '../adapters/notifiers/notifiers.js'
import { createMemoryProvider } from '../adapters/providers/memory-provider.js'
import { createFakeClock, systemRandom } from '../adapters/system/system.js'
import { parseRotationConfig } from '../core/rotation/policy.js'
import { createAeadSealer } from '../core/rotation/sealer.js'
import { createMemoryTargets } from '../core/rotation/testing.js'
import { tempDir } from '../../test/helpers/cli.js'
import { createRotationEngine } from './rotation-engine.js'
import { createScheduler, runDaemon } from './scheduler.js'

const D = 86_400_000

function setup(rotations: Record<string, Record<string, unknown>>, start = '2026-01-01T00:00:00Z') {
  const dir = tempDir()
  const clock = createFakeClock(start)
  const provider = createMemoryProvider({ clock })
  const initial: Record<string, string> = {}
  for (const name of Object.keys(rotations)) initial[name] = provider.seed(`initial-${name}-value-xyz`).value
  const targets = createMemoryTargets({ prod: { ...initial } })
  const notifier = createMemoryNotifier()
  const journal = createFileJournal({ dir: join(dir, '.rekey') })
  const { policies } = parseRotationConfig({ rotations: Object.fromEntries(Object.entries(rotations).map(([k, v]) => [k, { provider: 'command', create: 'x', revoke_command: 'y', targets: ['prod'], ...v }])) }, 'rekey.yml')
  let providerCalls = 0
  const counted = new Proxy(provider, {
    get(t, k) {
      const v = Reflect.get(t, k) as unknown
      if (typeof v === 'function' && ['identify', 'create', 'usage', 'test', 'revoke'].includes(String(k))) return (...a: unknown[]) => (providerCalls++, (v as (...x: unknown[]) => unknown).apply(t, a))
      return v
    },
  })
  const engine = createRotationEngine({
    journal,
    sealer: createAeadSealer({ kind: 'raw', key: randomBytes(32), source: 'test' }, systemRandom),
    providerFor: () => counted,
    targetFor: (env) => targets.open(env),
    checks: { run: async () => ({ ok: true }) },
    audit: createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock, actor: 't' }),
    notifier,
    clock,
    random: systemRandom,
    sleep: async () => undefined,
  })
  const scheduler = createScheduler({ engine, journal, clock, providerFor: () => counted, actor: 'rekey' })
  return { clock, provider, targets, notifier, journal, policies, engine, scheduler, calls: () => providerCalls }
}

describe('scheduler (tick) with a fake clock', () => {
  it('notice, then rotation when due, then revocation after grace; each tick is idempotent', async () => {
    const t = setup({ API_KEY: { schedule: 'every 30d', notice: '7d', grace: '24h', revoke: { idle: '15m', max: '7d' } } })
    let r = await t.scheduler.tick(t.policies)
    expect(r.due).toBe(0)
    t.clock.advance(23 * D + 1000)
    r = await t.scheduler.tick(t.policies)
    expect(r.notices).toEqual(['API_KEY'])
    r = await t.scheduler.tick(t.policies)
    expect(r.notices).toEqual([])
    t.clock.advance(7 * D)
    r = await t.scheduler.tick(t.policies)
    expect(r.rotated).toMatchObject([{ secret: 'API_KEY', state: 'draining' }])
    const again = await t.scheduler.tick(t.policies)
    expect(again.rotated).toEqual([])
    expect(again.resumed[0]?.waiting).toMatch(/grace/)
    t.clock.advance(2 * D)
    t.provider.authenticate(t.targets.value('prod', 'API_KEY')!)
    r = await t.scheduler.tick(t.policies)
    expect(r.resumed).toMatchObject([{ secret: 'API_KEY', state: 'done' }])
    expect(t.notifier.sent.map((n) => n.kind)).toEqual(['notice', 'started', 'succeeded', 'revoked'])
    expect(t.notifier.sent[0]!.lines.join('\n')).toContain('rekey postpone API_KEY 30d')
    const s = await t.journal.getState('API_KEY')
    expect(s?.last_result).toBe('succeeded')
  })

  it('alerts once when a revoked credential is presented after revocation', async () => {
    const t = setup({ P: { schedule: 'every 30d', grace: '0', revoke: { idle: '0', max: '1d' } } })
    const old = t.targets.value('prod', 'P')!
    const r = await t.engine.rotate(t.policies[0]!, { trigger: 'manual', actor: 'a' })
    t.clock.advance(60_000)
    t.provider.authenticate(t.targets.value('prod', 'P')!)
    expect((await t.engine.resume(t.policies[0]!, r.run.id)).run.state).toBe('done')
    expect((await t.scheduler.tick(t.policies)).presented).toEqual([])
    t.clock.advance(60_000)
    expect(t.provider.authenticate(old)).toBe(false)
    expect((await t.scheduler.tick(t.policies)).presented).toEqual(['P'])
    expect((await t.scheduler.tick(t.policies)).presented).toEqual([])
    expect(t.notifier.sent.filter((n) => n.kind === 'revoked_presented')).toHaveLength(1)
    t.clock.advance(8 * D)
    await t.scheduler.tick(t.policies)
    expect((await t.journal.getState('P'))?.watch).toBeNull()
  })

  it('two ticks at once (two cron jobs): the due rotation happens once, the other tick defers it', async () => {
    const t = setup({ C: { schedule: 'every 1d', grace: '0', revoke: { idle: '0', max: '1d' } } })
    await t.scheduler.tick(t.policies)
    t.clock.advance(D + 1)
    const [a, b] = await Promise.all([t.scheduler.tick(t.policies), t.scheduler.tick(t.policies)])
    expect(a.rotated.length + b.rotated.length).toBe(1)
    expect([...a.deferred, ...b.deferred].map((x) => x.reason).join()).toMatch(/C: in progress \(run rot_/)
    expect(t.notifier.sent.filter((n) => n.kind === 'started')).toHaveLength(1)
  })

  it('a tick that saw the secret due after another tick already rotated it starts nothing (checked under the lock)', async () => {
    const t = setup({ C: { schedule: 'every 1d', grace: '0', revoke: { idle: '0', max: '1d' } } })
    await t.scheduler.tick(t.policies)
    t.clock.advance(D + 1)
    const p = t.policies[0]!
    const first = await t.engine.rotateIfDue(p, { trigger: 'auto', actor: 'rekey' })
    expect(first?.run.state).toBe('draining')
    t.clock.advance(60_000)
    t.provider.authenticate(t.targets.value('prod', 'C')!)
    expect((await t.engine.resume(p, first!.run.id)).run.state).toBe('done')
    // The other tick decided "rotate" from what it read before; by the time it holds the lock, it is not due.
    expect(await t.engine.rotateIfDue(p, { trigger: 'auto', actor: 'rekey' })).toBeUndefined()
    expect(await t.journal.listRuns('C')).toHaveLength(1)
    // A manual rotation is not gated by the schedule.
    expect((await t.engine.rotate(p, { trigger: 'manual', actor: 'alice' })).run.state).toBe('draining')
    expect(await t.journal.listRuns('C')).toHaveLength(2)
  })

  it('a notice is audited and sent once when two ticks send it at the same time', async () => {
    const t = setup({ N: { schedule: 'every 30d', notice: '7d' } })
    await t.scheduler.tick(t.policies)
    t.clock.advance(24 * D)
    const p = t.policies[0]!
    const sent = await Promise.allSettled([t.engine.sendNotice(p), t.engine.sendNotice(p), t.engine.sendNotice(p)])
    expect(sent.filter((s) => s.status === 'fulfilled' && s.value)).toHaveLength(1)
    for (const s of sent) if (s.status === 'rejected') expect(s.reason).toMatchObject({ code: 'IN_PROGRESS' })
    expect(await t.engine.sendNotice(p)).toBe(false)
    expect(t.notifier.sent.filter((n) => n.kind === 'notice')).toHaveLength(1)
  })

  it('postpone moves the due time, and overdue alerts once at 1.5x the schedule', async () => {
    const t = setup({ K: { schedule: 'every 10d' } })
    await t.scheduler.tick(t.policies)
    const until = await t.engine.postpone(t.policies[0]!, 30 * D, 'alice', new Date(Date.parse('2026-01-11T00:00:00Z')))
    expect(until.toISOString()).toBe('2026-02-10T00:00:00.000Z')
    t.clock.advance(16 * D)
    let r = await t.scheduler.tick(t.policies)
    expect(r.rotated).toEqual([])
    expect(r.overdue).toEqual(['K'])
    r = await t.scheduler.tick(t.policies)
    expect(r.overdue).toEqual([])
    t.clock.set('2026-02-10T00:00:01Z')
    r = await t.scheduler.tick(t.policies)
    expect(r.rotated).toHaveLength(1)
  })

  it('rotates only inside the window', async () => {
    const t = setup({ W: { schedule: 'every 1d', window: 'Mon-Thu 09:00-16:00 UTC', jitter: '0' } }, '2026-01-02T12:00:00Z') // a Friday
    await t.scheduler.tick(t.policies)
    t.clock.set('2026-01-03T13:00:00Z') // Saturday: due, but outside the window
    let r = await t.scheduler.tick(t.policies)
    expect(r.due).toBe(0)
    t.clock.set('2026-01-05T09:00:00Z')
    r = await t.scheduler.tick(t.policies)
    expect(r.rotated).toHaveLength(1)
  })

  it('cost follows the due work: 1,000 policies with 10 due make provider calls for those 10 only', async () => {
    const rot: Record<string, Record<string, unknown>> = {}
    for (let i = 0; i < 1000; i++) rot[`S${i}`] = { schedule: i < 10 ? 'every 1d' : 'every 365d', grace: '0', revoke: { idle: '0', max: '1d' } }
    const t = setup(rot)
    await t.scheduler.tick(t.policies)
    expect(t.calls()).toBe(0)
    t.clock.advance(D + 1)
    const r = await t.scheduler.tick(t.policies)
    expect(r.due).toBe(10)
    expect(r.rotated).toHaveLength(10)
    // per rotation: identify, create, test, usage(old,new), revoke at most
    expect(t.calls()).toBeLessThanOrEqual(10 * 6)
  })

  it('daemon ticks until aborted, sleeping until the next due time', async () => {
    const ac = new AbortController()
    const clock = createFakeClock()
    const sleeps: number[] = []
    let n = 0
    const ticks = await runDaemon({
      tick: async () => {
        if (++n === 3) ac.abort()
        return { at: '', policies: 0, due: 0, rotated: [], resumed: [], notices: [], overdue: [], presented: [], deferred: [], failed: [] }
      },
      nextDueAt: async () => clock.now().getTime() + 5000,
      clock,
      signal: ac.signal,
      intervalMs: 60_000,
      sleep: async (ms) => void sleeps.push(ms),
    })
    expect(ticks).toBe(3)
    expect(sleeps).toEqual([5000, 5000])
  })
})

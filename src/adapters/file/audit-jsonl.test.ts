import { describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createJsonlAuditLog } from './audit-jsonl.js'
import { createFakeClock } from '../system/system.js'
import { tempDir } from '../../../test/helpers/cli.js'

describe('JSON-lines audit log', () => {
  it('chains events and detects an edit and a deletion', async () => {
    const path = join(tempDir(), 'audit.jsonl')
    const log = createJsonlAuditLog({ path, clock: createFakeClock(), actor: 'tester' })
    for (let i = 0; i < 5; i++) await log.append({ action: 'api_key.create', target: `k${i}` })
    expect(await log.verify()).toEqual({ ok: true, count: 5 })
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const lines = readFileSync(path, 'utf8').trim().split('\n')
    writeFileSync(path, lines.map((l, i) => (i === 2 ? l.replace('k2', 'kX') : l)).join('\n') + '\n')
    expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 3 })
    writeFileSync(path, lines.filter((_, i) => i !== 1).join('\n') + '\n')
    expect(await log.verify()).toMatchObject({ ok: false })
    writeFileSync(path, lines.slice(1).join('\n') + '\n')
    expect(await log.verify()).toMatchObject({ ok: false })
  })
  it('group-commits concurrent appends: arrival order, one chain, each resolved with its own event', async () => {
    const path = join(tempDir(), 'audit.jsonl')
    const log = createJsonlAuditLog({ path, clock: createFakeClock(), actor: 'tester' })
    const events = await Promise.all(Array.from({ length: 40 }, (_, i) => log.append({ action: 'secret.read', target: `K${i}` })))
    expect(events.map((e) => e.target)).toEqual(Array.from({ length: 40 }, (_, i) => `K${i}`))
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(await log.verify()).toEqual({ ok: true, count: 40 })
    expect((await log.read()).map((e) => e.id)).toEqual(events.map((e) => e.id))
  })
  it('fails every append of a batch that could not be written, and the next batch still works', async () => {
    const dir = tempDir()
    const path = join(dir, 'audit.jsonl')
    mkdirSync(path) // a directory where the log should be: the write fails
    const log = createJsonlAuditLog({ path, clock: createFakeClock(), actor: 'tester' })
    const r = await Promise.allSettled([log.append({ action: 'a.b', target: 'x' }), log.append({ action: 'a.b', target: 'y' })])
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected'])
    expect(r[0]).toMatchObject({ reason: { code: 'AUDIT_WRITE_FAILED' } })
    rmSync(path, { recursive: true })
    await expect(log.append({ action: 'a.b', target: 'z' })).resolves.toMatchObject({ seq: 1 })
  })
  it('keeps one unbroken chain under concurrent appends', async () => {
    const path = join(tempDir(), 'audit.jsonl')
    const log = createJsonlAuditLog({ path, clock: createFakeClock(), actor: 'tester' })
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append({ action: 'secret.set', target: `K${i}`, env: 'dev' })))
    expect(await log.verify()).toEqual({ ok: true, count: 20 })
    expect((await log.read({ action: 'SET' })).length).toBe(20)
    expect((await log.read({ target: 'K3' })).length).toBe(1)
  })
  it('fails the append when the log cannot be written', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'blocker'), '')
    const log = createJsonlAuditLog({ path: join(dir, 'blocker', 'audit.jsonl'), clock: createFakeClock(), actor: 't' })
    await expect(log.append({ action: 'x.y', target: 't' })).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' })
  })
})

import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createJsonlAuditLog } from '../adapters/file/audit-jsonl.js'
import { createFakeClock } from '../adapters/system/system.js'
import { tempDir } from '../../test/helpers/cli.js'
import { complianceRows, createAuditService, csvField, toCsv, type SourcedEvent } from './audit-service.js'

describe('audit service', () => {
  it('merges several logs by time and derives old_last4 for rotations', async () => {
    const dir = tempDir()
    const clock = createFakeClock('2026-01-01T00:00:00Z')
    const keys = createJsonlAuditLog({ path: join(dir, 'audit.jsonl'), clock, actor: 'alice' })
    const env = createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock, actor: 'bob' })
    await keys.append({ action: 'api_key.create', target: 'aaaaaaaaaaaa', detail: { new_last4: '…AAAA', trigger: 'manual' } })
    clock.advance(1000)
    await env.append({ action: 'secret.rotate', target: 'DB_PASSWORD', env: 'prod', detail: { old_last4: '…old1', new_last4: '…new1', trigger: 'auto' } })
    clock.advance(1000)
    await keys.append({ action: 'api_key.rotate', target: 'aaaaaaaaaaaa', detail: { new_last4: '…BBBB', trigger: 'auto' } })
    const svc = createAuditService({ sources: [{ name: 'keys', log: keys }, { name: 'env', log: env }] })
    const all = await svc.query()
    expect(all.map((e) => [e.source, e.action])).toEqual([
      ['keys', 'api_key.create'],
      ['env', 'secret.rotate'],
      ['keys', 'api_key.rotate'],
    ])
    expect((await svc.query({ action: 'ROTATE' })).length).toBe(2)
    const rows = await svc.compliance({ since: new Date('2026-01-01T00:00:01Z') })
    expect(rows).toEqual([
      { timestamp: '2026-01-01T00:00:01.000Z', secret: 'DB_PASSWORD', target: 'prod', old_last4: '…old1', new_last4: '…new1', triggered_by: 'auto', status: 'success', action: 'secret.rotate' },
      { timestamp: '2026-01-01T00:00:02.000Z', secret: 'aaaaaaaaaaaa', target: '', old_last4: '…AAAA', new_last4: '…BBBB', triggered_by: 'auto', status: 'success', action: 'api_key.rotate' },
    ])
    expect((await svc.verify()).map((v) => v.result.ok)).toEqual([true, true])
  })

  it('marks manual triggers with the actor and failed events as failed', () => {
    const ev = { seq: 1, id: 'evt_1', ts: 't', actor: 'carol', action: 'x.rotate', target: 'K', status: 'failed', detail: {}, prev: '', hash: '', source: 's' } satisfies SourcedEvent
    expect(complianceRows([ev])[0]).toMatchObject({ triggered_by: 'manual:carol', status: 'failed' })
  })

  it('escapes CSV per RFC 4180 and neutralises spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    for (const f of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx']) expect(csvField(f).startsWith("'") || csvField(f).startsWith(`"'`)).toBe(true)
    expect(csvField('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`)
    const csv = toCsv([{ timestamp: 't', secret: '=evil()', target: 'prod', old_last4: '', new_last4: '…x,y', triggered_by: 'manual:a"b', status: 'success', action: 'a.rotate' }])
    expect(csv).toBe('timestamp,secret,target,old_last4,new_last4,triggered_by,status,action\r\nt,\'=evil(),prod,,"…x,y","manual:a""b",success,a.rotate\r\n')
  })
})

import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnBin } from '../helpers/cli.js'
import { createJsonlAuditLog } from '../../src/adapters/file/audit-jsonl.js'
import { systemClock } from '../../src/adapters/system/system.js'
import { sandbox } from './apiauth-helpers.js'

describe('rekey audit on the built bin', () => {
  it('merges apiauth and envault logs, exports CSV, and fails verify naming the file and record', async () => {
    const sb = sandbox({ REKEY_ACTOR: 'dana' })
    const project = sb.home
    const g = JSON.parse((await spawnBin('apiauth', ['generate', 'api-key', '--name', 'n', '--service', 'api', '--json'], { env: sb.env })).stdout) as { id: string }
    await createJsonlAuditLog({ path: join(project, '.envault-audit.log'), clock: systemClock, actor: 'erin' }).append({
      action: 'secret.rotate',
      target: '=cmd|calc',
      env: 'prod',
      detail: { old_last4: '…1111', new_last4: '…2222', trigger: 'auto' },
    })
    await spawnBin('apiauth', ['rotate', g.id, '--actor', 'frank'], { env: sb.env })

    const log = await spawnBin('rekey', ['audit', 'log'], { env: sb.env, cwd: project })
    expect(log.code).toBe(0)
    const lines = log.stdout.trim().split('\n')
    expect(lines.map((l) => l.split('  ')[1])).toEqual(['api_key.create', 'secret.rotate', 'api_key.rotate'])
    expect(lines[2]).toContain('by frank')

    const csv = await spawnBin('rekey', ['audit', 'export', '--format', 'csv'], { env: sb.env, cwd: project })
    const rows = csv.stdout.trimEnd().split('\r\n')
    expect(rows[0]).toBe('timestamp,secret,target,old_last4,new_last4,triggered_by,status,action')
    expect(rows[2]).toMatch(/^[^,]+,'=cmd\|calc,prod,…1111,…2222,auto,success,secret\.rotate$/)
    expect(rows[3]).toMatch(new RegExp(`,${g.id},,…....,…....,manual:frank,success,api_key.rotate$`))

    expect((await spawnBin('rekey', ['audit', 'verify'], { env: sb.env, cwd: project })).code).toBe(0)
    const file = join(sb.keyDir, 'audit.jsonl')
    writeFileSync(file, readFileSync(file, 'utf8').replace('"frank"', '"mallory"'))
    const v = await spawnBin('rekey', ['audit', 'verify'], { env: sb.env, cwd: project })
    expect(v.code).toBe(1)
    expect(v.stdout).toContain(`✗ ${file}: chain broken at record 2: event 2 was altered (hash mismatch)`)
    expect(v.stdout).toContain(`✓ ${join(project, '.envault-audit.log')}: 1 events, chain intact`)
  })
})

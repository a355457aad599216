import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/cli.js'
import { createFileJournal } from './journal-file.js'

describe('file rotation journal', () => {
  it('per-secret lock: a live holder makes others fail at once naming its run; a dead holder is taken over', async () => {
    const dir = join(tempDir(), '.rekey')
    const alive = new Set([111])
    const a = createFileJournal({ dir, pid: 111, isAlive: (p) => alive.has(p) })
    const b = createFileJournal({ dir, pid: 222, isAlive: (p) => alive.has(p) })
    await a.withSecretLock('API_KEY', 'rot_aaaaaaaaaaaaaaaa', async () => {
      await expect(b.withSecretLock('API_KEY', 'rot_bbbbbbbbbbbbbbbb', async () => 1)).rejects.toThrow('API_KEY: in progress (run rot_aaaaaaaaaaaaaaaa)')
      await expect(b.withSecretLock('OTHER', 'rot_bbbbbbbbbbbbbbbb', async () => 'ok')).resolves.toBe('ok')
    })
    expect(readdirSync(join(dir, 'locks')).filter((f) => f.endsWith('.lock'))).toEqual([])
    // a holder killed with -9 leaves its lock file behind
    writeFileSync(join(dir, 'locks', 'API_KEY.lock'), JSON.stringify({ pid: 333, host: hostname(), run: 'rot_cccccccccccccccc' }))
    await expect(b.withSecretLock('API_KEY', 'rot_bbbbbbbbbbbbbbbb', async () => 'taken over')).resolves.toBe('taken over')
    // a torn lock file (writer died between create and write) is taken over too
    writeFileSync(join(dir, 'locks', 'API_KEY.lock'), '')
    await expect(b.withSecretLock('API_KEY', 'rot_bbbbbbbbbbbbbbbb', async () => 'again')).resolves.toBe('again')
    // a holder on another host is never presumed dead
    writeFileSync(join(dir, 'locks', 'API_KEY.lock'), JSON.stringify({ pid: 333, host: 'elsewhere', run: 'rot_dddddddddddddddd' }))
    await expect(b.withSecretLock('API_KEY', 'rot_bbbbbbbbbbbbbbbb', async () => 1)).rejects.toMatchObject({ code: 'IN_PROGRESS' })
  })

  it('runs, states and the due-index are private files written atomically; bad ids and damage are named', async () => {
    const root = tempDir()
    const dir = join(root, '.rekey')
    const j = createFileJournal({ dir })
    await j.updateDue(new Map([['A', { at: 5, fp: 'x', seen: '2026-01-01T00:00:00.000Z' }], ['B', { at: null, fp: 'y', seen: '2026-01-01T00:00:00.000Z' }]]))
    await j.updateDue(new Map([['B', null]]))
    expect([...(await j.readDue()).keys()]).toEqual(['A'])
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, 'due.json')).mode & 0o777).toBe(0o600)
    expect(await j.getRun('../../etc/passwd')).toBeUndefined()
    mkdirSync(join(dir, 'runs'), { recursive: true })
    writeFileSync(join(dir, 'runs', 'rot_0123456789abcdef.json'), '{torn')
    await expect(j.getRun('rot_0123456789abcdef')).rejects.toThrow('run file rot_0123456789abcdef.json is corrupt')
    writeFileSync(join(dir, 'due.json'), 'nope')
    await expect(j.readDue()).rejects.toThrow(/due\.json is corrupt/)
  })
})

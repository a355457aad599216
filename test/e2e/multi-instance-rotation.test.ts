import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/cli.js'
import { serviceAvailable } from '../helpers/services.js'
import { ENVS, envValue, isValid, writeProject } from './rekey-helpers.js'
import { api, cliToken, pgEnv, spawnServe } from './serve-helpers.js'

const SECRET = 'API_TOKEN'

/**
 * Rotations across several `rekey serve` instances: the same engine as `rekey rotate`, one run
 * per secret across the fleet, and a run whose instance is killed mid-rotation finished by
 * another instance's scheduler tick.
 */
describe.skipIf(!(await serviceAvailable('postgres')))('rotations across rekey serve instances', () => {
  it('three simultaneous triggers on three instances make exactly one run', async () => {
    const db = await pgEnv()
    const dir = tempDir()
    writeProject(dir, { secret: SECRET, initial: 'initial-value-0001' })
    // A slow provider, so the three requests overlap.
    const create = join(dir, 'create.sh')
    writeFileSync(create, readFileSync(create, 'utf8').replace('set -e\n', 'set -e\nsleep 1\n'))
    const env = { ...db.env, HOME: dir }
    const admin = await cliToken(env, 'admin')
    const args = ['--config', join(dir, 'rekey.yml'), '--tick-interval', '1h']
    const servers = await Promise.all([spawnServe(env, args), spawnServe(env, args), spawnServe(env, args)])
    const rs = await Promise.all(servers.map((s) => api(s.url, 'POST', `/v1/rotations/${SECRET}/trigger`, admin, {})))
    const ok = rs.filter((r) => r.status === 200)
    const busy = rs.filter((r) => r.status === 409)
    expect(ok.length).toBe(1)
    expect(busy.length).toBe(2)
    for (const b of busy) expect((b.json.error as { code: string; message: string }).message).toMatch(/^API_TOKEN: in progress \(run rot_[0-9a-f]+\)$/)
    expect(ok[0]!.json.state).toBe('done')
    const status = await api(servers[2].url, 'GET', `/v1/rotations/${SECRET}`, admin)
    expect((status.json.runs as unknown[]).length).toBe(1)
    const values = ENVS.map((e) => envValue(dir, e, SECRET))
    expect(new Set(values).size).toBe(1)
    expect(values[0]).not.toBe('initial-value-0001')
    expect(isValid(dir, values[0])).toBe(true)
    const list = (await api(servers[1].url, 'GET', '/v1/rotations', admin)).json.rotations as { secret: string; last_result: string }[]
    expect(list).toEqual([expect.objectContaining({ secret: SECRET, last_result: 'succeeded' })])
  })

  it('an instance killed mid-rotation: another instance\'s scheduler finishes the run', async () => {
    const db = await pgEnv()
    const dir = tempDir()
    writeProject(dir, { secret: SECRET, initial: 'initial-value-0002' })
    const env = { ...db.env, HOME: dir }
    const admin = await cliToken(env, 'admin')
    const victim = await spawnServe(env, ['--config', join(dir, 'rekey.yml'), '--tick-interval', '1h'])
    const survivor = await spawnServe(env, ['--config', join(dir, 'rekey.yml'), '--tick-interval', '300ms'])
    // The provider's create script SIGKILLs the process that ran it (the victim) right after creating.
    writeFileSync(join(dir, 'crash.create'), '')
    const died = new Promise((r) => victim.child.on('exit', (_c, sig) => r(sig)))
    await api(victim.url, 'POST', `/v1/rotations/${SECRET}/trigger`, admin, {}).catch(() => undefined)
    expect(await died).toBe('SIGKILL')
    let state = ''
    for (let i = 0; i < 100; i++) {
      const s = await api(survivor.url, 'GET', `/v1/rotations/${SECRET}`, admin)
      const runs = s.json.runs as { state: string }[]
      state = runs.at(-1)?.state ?? ''
      if (state === 'done' || state === 'rolled_back') break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(['done', 'rolled_back']).toContain(state)
    const values = ENVS.map((e) => envValue(dir, e, SECRET))
    expect(new Set(values).size).toBe(1)
    expect(isValid(dir, values[0])).toBe(true)
    const m = await fetch(`${survivor.url}/metrics`).then((r) => r.text())
    expect(m).toMatch(/rekey_rotations_total\{outcome="(succeeded|rolled_back)"\} 1/)
    expect(await survivor.stop()).toBe(0)
  })
})

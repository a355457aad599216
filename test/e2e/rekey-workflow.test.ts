import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openKeysService } from '../../src/cli/compose-keys.js'
import { systemClock, systemRandom } from '../../src/adapters/system/system.js'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { ENVS, envValue } from './rekey-helpers.js'

/**
 * Seed 000's ten CI steps (apiauth rotate, envault diff, set, sync ×2, diff, apiauth verify, curl
 * staging and prod) as one `rekey rotate`, against a local service that accepts the key through
 * the keys service; then the grace period (both keys accepted), the refusal of a concurrent
 * rotation, `rekey rollback`, and the compliance export.
 */
describe('seed 000 workflow as one rekey rotate', () => {
  it('rotates the key everywhere, verifies it against the service, rolls back on demand', async () => {
    const dir = tempDir()
    const keys = await openKeysService({ keyDir: join(dir, 'keys'), env: {}, clock: systemClock, random: systemRandom, actor: 'setup' })
    const { entry, key: OLD } = await keys.service.generateApiKey({ name: 'stripe', service: 'payments' })
    await keys.close()
    const server = createServer((req, res) => {
      void (async () => {
        const k = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
        const h = await openKeysService({ keyDir: join(dir, 'keys'), env: {}, clock: systemClock, random: systemRandom, actor: 'service', readOnly: true })
        const r = await h.service.verify(k)
        await h.close()
        res.writeHead(r.status === 'VALID' ? 200 : 401)
        res.end()
      })()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
    const call = async (k: string) => (await fetch(url, { headers: { authorization: `Bearer ${k}` } })).status
    try {
      writeFileSync(join(dir, '.envault.yml'), 'project: shop\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\n')
      for (const e of ENVS) writeFileSync(join(dir, `.env.${e}`), `# ${e}\nSTRIPE_API_KEY=${OLD}\nOTHER=keep-me\n`)
      writeFileSync(
        join(dir, 'rekey.yml'),
        [
          'rotations:',
          '  STRIPE_API_KEY:',
          '    provider: apiauth',
          `    key_id: ${entry.id}`,
          '    key_dir: keys',
          '    targets: [staging, prod, dev]',
          '    schedule: "0 9 1 */3 *"',
          '    grace: 24h',
          '    revoke: { idle: 15m, max: 7d }',
          '    used_by: [payment-service, billing-service]',
          '    verify:',
          `      - http: { url: "${url}", headers: { Authorization: "Bearer {{value}}" }, expect: 200 }`,
          '      - provider: true',
          '',
        ].join('\n'),
      )
      const env = { REKEY_ACTOR: 'ci-bot' }
      const r = await spawnBin('rekey', ['rotate', 'STRIPE_API_KEY'], { cwd: dir, env })
      expect(r.stderr).not.toMatch(/error/)
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^✓ Rotated STRIPE_API_KEY \(run rot_[0-9a-f]{16}\)$/m)
      expect(r.stdout).toContain('Targets: 3/3 updated and verified (staging, prod, dev)')
      const NEW = envValue(dir, 'prod', 'STRIPE_API_KEY')!
      expect(NEW).not.toBe(OLD)
      for (const e of ENVS) expect(envValue(dir, e, 'STRIPE_API_KEY')).toBe(NEW)
      expect(r.stdout).not.toContain(NEW)
      // grace period: both keys work
      expect(await call(NEW)).toBe(200)
      expect(await call(OLD)).toBe(200)
      const verify = await spawnBin('apiauth', ['verify', '-', '--key-dir', 'keys'], { cwd: dir, input: NEW })
      expect(verify.code).toBe(0)
      const status = JSON.parse((await spawnBin('rekey', ['status', '--json'], { cwd: dir })).stdout) as { secrets: { targets_in_sync: string; state: string; version: string }[] }
      expect(status.secrets[0]).toMatchObject({ targets_in_sync: '3/3', state: 'draining', version: `${entry.id}:v2` })
      const again = await spawnBin('rekey', ['rotate', 'STRIPE_API_KEY'], { cwd: dir })
      expect(again.code).toBe(1)
      expect(again.stderr).toMatch(/^error: STRIPE_API_KEY: in progress \(run rot_[0-9a-f]{16}\)$/m)
      // rollback during grace
      const back = await spawnBin('rekey', ['rollback', 'STRIPE_API_KEY'], { cwd: dir, env })
      expect(back.code).toBe(0)
      for (const e of ENVS) expect(envValue(dir, e, 'STRIPE_API_KEY')).toBe(OLD)
      expect(await call(OLD)).toBe(200)
      expect(await call(NEW)).toBe(401)
      const csv = (await spawnBin('rekey', ['audit', 'export', '--format', 'csv', '--since', '30d'], { cwd: dir })).stdout
      expect(csv).toMatch(/,STRIPE_API_KEY,prod,…[\w-]{4},…[\w-]{4},manual:ci-bot,success,rotation\.stage/)
      expect(csv).toContain('rotation.rollback')
      expect(csv).not.toContain(NEW)
      expect(csv).not.toContain(OLD)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  it('verification failing against the service rolls everything back and exits non-zero', async () => {
    const dir = tempDir()
    const keys = await openKeysService({ keyDir: join(dir, 'keys'), env: {}, clock: systemClock, random: systemRandom, actor: 'setup' })
    const { entry, key: OLD } = await keys.service.generateApiKey({ name: 'stripe', service: 'payments' })
    await keys.close()
    // a service that only knows the old key
    const server = createServer((req, res) => {
      res.writeHead(String(req.headers.authorization) === `Bearer ${OLD}` ? 200 : 401)
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
    try {
      writeFileSync(join(dir, '.envault.yml'), 'project: shop\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\n')
      for (const e of ENVS) writeFileSync(join(dir, `.env.${e}`), `STRIPE_API_KEY=${OLD}\n`)
      writeFileSync(join(dir, 'rekey.yml'), `rotations:\n  STRIPE_API_KEY:\n    provider: apiauth\n    key_id: ${entry.id}\n    key_dir: keys\n    targets: [staging, prod, dev]\n    verify_attempts: 2\n    verify:\n      - http: { url: "${url}", headers: { Authorization: "Bearer {{value}}" } }\n`)
      const r = await spawnBin('rekey', ['rotate', 'STRIPE_API_KEY'], { cwd: dir, env: { REKEY_VERIFY_RETRY_MS: '0' } })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^error: STRIPE_API_KEY: verification failed: http check http:\/\/127\.0\.0\.1:\d+\/health: HTTP 401 \(expected 200\); rolled back \(run rot_[0-9a-f]{16}\)$/m)
      for (const e of ENVS) expect(envValue(dir, e, 'STRIPE_API_KEY')).toBe(OLD)
      const h = await openKeysService({ keyDir: join(dir, 'keys'), env: {}, clock: systemClock, random: systemRandom, actor: 't' })
      expect((await h.service.verify(OLD)).status).toBe('VALID')
      const cur = await h.service.get(entry.id)
      expect(cur.versions.find((v) => v.version === 2)?.revoked_at).not.toBeNull()
      await h.close()
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

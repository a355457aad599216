import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnBin, tempDir } from '../helpers/cli.js'
import { ENVS, envValue, projectText, sha16, startWebhookSink, writeProject } from './rekey-helpers.js'

/**
 * The secret canary over every rekey rotation command and every notification: a known value is
 * planted as the current secret, every command runs (human and --json, with debug on), and
 * neither it nor any value rotated in must appear in stdout, stderr, the audit log, the journal,
 * the notification log or the webhook bodies.
 */
const SECRET = 'PAYMENT_TOKEN'
const CANARY = 'CANARY_sk_live_9f8e7d6c5b4a3210zz'

describe('secret canary: rekey rotation commands and notifications', () => {
  it('never shows a secret value', async () => {
    const dir = tempDir()
    const hook = await startWebhookSink()
    try {
      writeProject(dir, { secret: SECRET, initial: CANARY, notify: `notify:\n  - log: .rekey/notifications.log\n  - webhook: "${hook.url}"` })
      const env = { REKEY_DEBUG: '1', REKEY_VERIFY_RETRY_MS: '0', REKEY_ACTOR: 'canary-bot' }
      const values = new Set<string>([CANARY])
      const outputs: string[] = []
      const run = async (args: string[], expectCode?: number) => {
        for (const json of [false, true]) {
          const r = await spawnBin('rekey', json ? [...args, '--json'] : args, { cwd: dir, env })
          outputs.push(r.stdout, r.stderr)
          if (expectCode !== undefined && !json) expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(expectCode)
          for (const e of ENVS) {
            const v = envValue(dir, e, SECRET)
            if (v) values.add(v)
          }
        }
      }
      await run(['plan'], 0)
      await run(['status'], 0)
      await run(['rotate', SECRET, '--dry-run'], 0)
      await run(['rotate', SECRET], 0) // two rotations (human, then --json): both complete (grace 0)
      await run(['history', SECRET], 0)
      await run(['tick'], 0)
      await run(['postpone', SECRET, '30d'], 0)
      // a failing rotation: every value but the current one fails its test → rolled back
      writeFileSync(join(dir, 'fail.test'), sha16(envValue(dir, 'prod', SECRET)!))
      await run(['rotate', SECRET], 1)
      await run(['rollback', SECRET], 1)
      await run(['resume', 'rot_00000000deadbeef'], 1)
      await run(['rotate', 'NO_SUCH_SECRET'], 1)
      expect(values.size).toBeGreaterThanOrEqual(3)
      expect(hook.bodies.length).toBeGreaterThan(0)
      const kinds = hook.bodies.map((b) => (JSON.parse(b) as { text: string }).text.split('\n')[0])
      expect(kinds).toEqual(expect.arrayContaining(['*Key rotation started*', '*Key rotation complete*', '*Old key revoked*', '*Key rotation failed*', '*Key rotation rolled back*', '*Key rotation postponed*']))
      const everything = [...outputs, ...hook.bodies, projectText(dir)].join('\n')
      for (const v of values) {
        expect(everything).not.toContain(v)
        expect(everything).not.toContain(encodeURIComponent(v))
      }
      // the proposals sealed in run files are not in clear either
      expect(projectText(dir)).not.toMatch(/"proposed"/)
    } finally {
      await hook.close()
    }
  })
})

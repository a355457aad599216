import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnBin } from '../helpers/cli.js'
import { openKeysService } from '../../src/cli/compose-keys.js'
import { createFakeClock, systemRandom } from '../../src/adapters/system/system.js'
import { bash, sandbox } from './apiauth-helpers.js'

describe('seed 001 scripts run unchanged against the built apiauth', () => {
  it('Step 1 and the GitHub Actions rotate step', async () => {
    const sb = sandbox()
    const g = await spawnBin('apiauth', ['generate', 'api-key', '--name', 'Production API', '--service', 'api-gateway', '--expiry-days', '90'], { env: sb.env })
    expect(g.code).toBe(0)
    const id = /API key ([0-9a-f]{12}) created/.exec(g.stdout)![1]!
    const oldKey = /Key: (\S+)/.exec(g.stdout)![1]!

    // Step 1: Rotate the Key
    const step1 = bash(
      `# Rotate and capture the new value
NEW_KEY=$(apiauth rotate ${id} --expiry-days 90 2>&1 | grep "New key:" | awk '{print $3}')
echo "New key value: $NEW_KEY"
echo "Key is now at version 2"`,
      sb.env,
      sb.home,
    )
    expect(step1.code).toBe(0)
    const v2 = /New key value: (\S+)/.exec(step1.stdout)![1]!
    expect(v2).toMatch(/^ak_[A-Za-z0-9_-]{43}$/)

    // The workflow's "Rotate the key" step, with ${{ secrets.API_KEY_ID }} substituted by Actions.
    const ghOutput = join(sb.home, 'github_output')
    writeFileSync(ghOutput, '')
    const step = bash(
      `# Rotate the key and capture the new value
OUTPUT=$(apiauth rotate ${id} --expiry-days 90 2>&1)
echo "$OUTPUT"
# Extract the new key value
NEW_KEY=$(echo "$OUTPUT" | grep "New key:" | awk '{print $3}')
echo "new_key=$NEW_KEY" >> "$GITHUB_OUTPUT"
# Verify rotation happened
VERSION=$(echo "$OUTPUT" | grep -oP 'v\\K[0-9]+')
echo "Key rotated to version $VERSION"`,
      { ...sb.env, GITHUB_OUTPUT: ghOutput },
      sb.home,
    )
    expect(step.code).toBe(0)
    expect(step.stdout).toContain(`✓ Rotated ${id} (v3)`)
    expect(step.stdout).toContain('Key rotated to version 3\n')
    const v3 = /^new_key=(\S+)$/m.exec(readFileSync(ghOutput, 'utf8'))![1]!
    expect(v3).toMatch(/^ak_/)

    // seed 000 runs verify as a pipeline step: exit 0 only when VALID
    expect(bash(`apiauth verify "${v3}" && echo accepted`, sb.env, sb.home).stdout).toContain('accepted')
    const prev = bash(`apiauth verify "${v2}"`, sb.env, sb.home)
    expect(prev.code).toBe(0) // v2 is in its grace window: VALID, deprecated
    expect(prev.stdout).toContain('deprecated')
    // v1 is also still in its grace window until its version is revoked
    expect(bash(`apiauth verify "${oldKey}"`, sb.env, sb.home).code).toBe(0)
    expect(bash(`apiauth revoke-version ${id} 1`, sb.env, sb.home).stdout).toBe(`✗ Revoked version 1 of ${id}\n`)
    expect(bash(`apiauth verify "${oldKey}" || echo "rejected $?"`, sb.env, sb.home).stdout).toContain(`✗ Key ${id} is REVOKED\n  version 1 was revoked\nrejected 1`)
    expect(bash(`apiauth verify "ak_not_a_key" || echo "rejected $?"`, sb.env, sb.home).stdout).toContain('rejected 1')
  })

  const auditJob = `# Run audit and capture output
apiauth audit > audit-report.txt 2>&1
cat audit-report.txt
# Fail if any keys are expired
if grep -q "EXPIRED" audit-report.txt; then
  echo "::error::Expired keys found — rotate immediately"
  exit 1
fi
# Warn if keys are expiring soon
if grep -q "EXPIRING" audit-report.txt; then
  echo "::warning::Keys expiring within 7 days — schedule rotation"
fi`

  it('the scheduled audit job: passes when healthy, warns when expiring, fails when expired', async () => {
    const sb = sandbox()
    await spawnBin('apiauth', ['generate', 'api-key', '--name', 'a', '--service', 'api-gateway', '--expiry-days', '90'], { env: sb.env })
    const healthy = bash(auditJob, sb.env, sb.home)
    expect(healthy).toMatchObject({ code: 0 })
    expect(healthy.stdout).toBe('✓ All 1 keys are healthy\n')

    // Keys created in the past through the library (a fake clock), then read by the built bin.
    const past = async (at: string, days: number, service: string) => {
      const k = await openKeysService({ keyDir: sb.keyDir, env: sb.env, clock: createFakeClock(at), random: systemRandom, actor: 'setup' })
      try {
        return (await k.service.generateApiKey({ name: 'old', service, expiryDays: days })).entry.id
      } finally {
        await k.close()
      }
    }
    const soon = new Date(Date.now() - 86 * 86_400_000).toISOString()
    const expiring = await past(soon, 90, 'payment-service')
    const warn = bash(auditJob, sb.env, sb.home)
    expect(warn.code).toBe(0)
    expect(warn.stdout).toContain('⚠ 1 EXPIRING key(s) (within 7 days):')
    expect(warn.stdout).toContain(`  - ${expiring} (payment-service) — expires `)
    expect(warn.stdout).toContain('::warning::Keys expiring within 7 days')

    const expired = await past('2025-07-01T00:00:00Z', 30, 'legacy-api')
    const fail = bash(auditJob, sb.env, sb.home)
    expect(fail.code).toBe(1)
    expect(fail.stdout).toContain(`✗ 1 EXPIRED key(s):\n  - ${expired} (legacy-api) — expired 2025-07-31\n`)
    expect(fail.stdout).toContain('::error::Expired keys found')
  })
})

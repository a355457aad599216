import { describe, expect, it } from 'vitest'
import { parseRotationConfig } from './policy.js'

describe('rotation policy schema', () => {
  it('normalises a full policy with defaults', () => {
    const c = parseRotationConfig(
      {
        rotations: {
          STRIPE_API_KEY: {
            provider: 'apiauth', key_id: 'abc123def456', targets: ['staging', 'prod', 'dev'], schedule: 'every 90d', window: 'Mon-Thu 09:00-16:00 UTC',
            notice: '7d', grace: '24h', revoke: { idle: '15m', max: '7d' }, used_by: ['payment-service'], criticality: 'high',
            verify: [{ http: { url: 'http://x/health', headers: { Authorization: 'Bearer {{value}}' }, expect: 200 } }, { command: './smoke.sh' }],
            rollback_on_failure: true,
          },
        },
        notify: [{ webhook: 'https://hooks.example.com/T000/B000' }],
      },
      'rekey.yml',
      ['dev', 'staging', 'prod'],
    )
    const p = c.policies[0]!
    expect(p).toMatchObject({ name: 'STRIPE_API_KEY', variable: 'STRIPE_API_KEY', graceMs: 86_400_000, revokeIdleMs: 900_000, noticeMs: 7 * 86_400_000, criticality: 'high' })
    expect(p.schedule?.kind).toBe('every')
    expect(c.notify).toHaveLength(1)
  })
  it('reports every problem at once, naming policy and field', () => {
    let msg = ''
    try {
      parseRotationConfig(
        {
          rotations: {
            A: { provider: 'postgres', targets: ['prod'], schedule: 'every 9x', grace: 'soon' },
            B: { provider: 'nope', targets: [] },
            C: { provider: 'apiauth', key_id: 'abc123def456', targets: ['qa'], revoke: { max: '1h' }, grace: '2h', typo_field: 1 },
            '../etc': { provider: 'command', create: 'x', revoke_command: 'y', targets: ['prod'] },
          },
        },
        'rekey.yml',
        ['prod'],
      )
    } catch (e) {
      expect((e as { code: string }).code).toBe('CONFIG_INVALID')
      msg = (e as Error).message
    }
    expect(msg).toMatch(/^rekey\.yml: \d+ problems: /)
    expect(msg).toContain('rotations.B.provider')
    expect(msg).toContain('rotations.B.targets')
    expect(msg).toContain('rotations.C')
    expect(msg).toContain('typo_field')
    expect(msg).toContain('rotations.../etc: a policy name uses letters')
  })
  it('checks provider options, durations, windows and targets after the shape is valid', () => {
    expect(() =>
      parseRotationConfig(
        { rotations: { A: { provider: 'postgres', targets: ['prod', 'qa'], schedule: 'every 9x', grace: 'soon', window: 'whenever' }, C: { provider: 'apiauth', key_id: 'abc123def456', targets: ['prod'], revoke: { max: '1h' }, grace: '2h' } } },
        'rekey.yml',
        ['prod'],
      ),
    ).toThrow(
      /rotations\.A\.roles: required.*rotations\.A\.url: required.*rotations\.A\.schedule: invalid schedule "every 9x".*rotations\.A\.window: .*rotations\.A\.grace: .*rotations\.A\.targets\[1\]: unknown environment "qa".*rotations\.C\.revoke\.max: must be at least the grace period/,
    )
  })
})

import { z } from 'zod'
import { AppError } from '../errors.js'
import { parseDuration } from '../time/duration.js'
import { parseSchedule, parseWindow, type Schedule, type Window } from './schedule.js'

/**
 * Rotation policies: the `rotations:` and `notify:` sections of rekey.yml (or of .envault.yml,
 * where they share the `environments` already defined there). Validation reports every problem
 * at once, each naming the policy and the field, so a user fixes the file in one pass.
 */
export const PROVIDER_KINDS = ['apiauth', 'postgres', 'mariadb', 'redis', 'http', 'command'] as const
export type ProviderKind = (typeof PROVIDER_KINDS)[number]

const duration = z.string().describe('a duration such as 15m, 24h, 7d')

const httpCheck = z.strictObject({
  url: z.string().min(1),
  method: z.enum(['GET', 'HEAD', 'POST']).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  expect: z.number().int().min(100).max(599).optional(),
})

const checkSchema = z.union([
  z.strictObject({ http: httpCheck }),
  z.strictObject({ command: z.string().min(1) }),
  z.strictObject({ provider: z.literal(true) }),
])

const policySchema = z.strictObject({
  provider: z.enum(PROVIDER_KINDS),
  targets: z.array(z.string().min(1)).min(1),
  variable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe('the variable written into each target (default: the policy name)'),
  schedule: z.string().optional(),
  window: z.string().optional(),
  jitter: duration.optional(),
  notice: duration.optional(),
  grace: duration.optional(),
  revoke: z.strictObject({ idle: duration.optional(), max: duration.optional() }).optional(),
  used_by: z.array(z.string()).optional(),
  criticality: z.enum(['low', 'medium', 'high', 'critical']).optional(),
  verify: z.array(checkSchema).optional(),
  verify_attempts: z.number().int().min(1).max(20).optional(),
  verify_timeout: duration.optional(),
  rollback_on_failure: z.boolean().optional(),
  allow_interruption: z.boolean().optional(),
  // provider options
  key_id: z.string().regex(/^[0-9a-f]{12}$/, 'must be 12 lowercase hex characters').optional(),
  key_dir: z.string().optional(),
  url: z.string().optional(),
  url_env: z.string().optional(),
  roles: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'must be a plain role name')).length(2).optional(),
  host: z.string().optional(),
  database: z.string().optional(),
  user: z.string().optional(),
  endpoint: z.string().optional(),
  signing_secret_env: z.string().optional(),
  create: z.string().optional(),
  revoke_command: z.string().optional(),
  test: z.string().optional(),
  usage: z.string().optional(),
  discard: z.string().optional(),
  single_credential: z.boolean().optional(),
})

const notifySchema = z.union([
  z.strictObject({ webhook: z.string().min(1), events: z.array(z.string()).optional() }),
  z.strictObject({ log: z.string().min(1), events: z.array(z.string()).optional() }),
])

export type RawPolicy = z.infer<typeof policySchema>
export type Check = z.infer<typeof checkSchema>
export type NotifyTarget = z.infer<typeof notifySchema>

export interface Policy {
  name: string
  variable: string
  provider: ProviderKind
  targets: string[]
  schedule: Schedule | undefined
  window: Window | undefined
  jitterMs: number
  noticeMs: number
  graceMs: number
  revokeIdleMs: number
  revokeMaxMs: number
  usedBy: string[]
  criticality: 'low' | 'medium' | 'high' | 'critical'
  verify: Check[]
  verifyAttempts: number
  verifyTimeoutMs: number
  rollbackOnFailure: boolean
  allowInterruption: boolean
  /** Provider options, as written (validated per provider below). */
  options: RawPolicy
}

export interface RotationConfig {
  policies: Policy[]
  notify: NotifyTarget[]
}

export const POLICY_DEFAULTS = { grace: '24h', idle: '15m', max: '7d', notice: '0', verifyAttempts: 3, verifyTimeout: '10s' } as const

/** Options each provider needs; a missing one is reported with the others. */
const REQUIRED: Record<ProviderKind, (p: RawPolicy) => string[]> = {
  apiauth: (p) => (p.key_id ? [] : ['key_id: required for provider apiauth']),
  postgres: (p) => [...(p.roles ? [] : ['roles: required for provider postgres (two alternating roles, e.g. [app_a, app_b])']), ...(p.url || p.url_env ? [] : ['url: required for provider postgres (or url_env)'])],
  mariadb: (p) => [...(p.roles ? [] : ['roles: required for provider mariadb (two alternating users)']), ...(p.url || p.url_env ? [] : ['url: required for provider mariadb (or url_env)'])],
  redis: (p) => [...(p.user ? [] : ['user: required for provider redis (the ACL user)']), ...(p.url || p.url_env ? [] : ['url: required for provider redis (or url_env)'])],
  http: (p) => (p.endpoint ? [] : ['endpoint: required for provider http']),
  command: (p) => [...(p.create ? [] : ['create: required for provider command']), ...(p.revoke_command ? [] : ['revoke_command: required for provider command'])],
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[')
}

/**
 * Validates and normalises the rotation sections of a parsed YAML document. Throws one
 * CONFIG_INVALID error listing every problem as `rotations.NAME.field: reason`.
 */
export function parseRotationConfig(doc: unknown, file: string, knownEnvironments?: readonly string[]): RotationConfig {
  const problems: string[] = []
  // The file's shape (rotations: a mapping, notify: a list) first; then each policy on its own,
  // so a broken policy does not hide the problems of the others.
  const top = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {}
  const rawRotations = top.rotations ?? {}
  const notifyParsed = z.array(notifySchema).optional().safeParse(top.notify)
  if (!notifyParsed.success) {
    for (const issue of notifyParsed.error.issues) {
      const at = pathText(issue.path)
      problems.push(`notify${at === '' || at.startsWith('[') ? '' : '.'}${at}: ${issue.message}`)
    }
  }
  const policies: Policy[] = []
  if (rawRotations === null || typeof rawRotations !== 'object' || Array.isArray(rawRotations)) {
    problems.push('rotations: must be a mapping of secret names to policies')
  } else {
    for (const [name, raw] of Object.entries(rawRotations as Record<string, unknown>)) {
      // Names become file names under .rekey/ (state, locks): keep them plain.
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) problems.push(`rotations.${name}: a policy name uses letters, digits, "_", "." or "-" (at most 128)`)
      const parsedPolicy = policySchema.safeParse(raw)
      if (!parsedPolicy.success) {
        for (const issue of parsedPolicy.error.issues) problems.push(`rotations.${name}${issue.path.length ? `.${pathText(issue.path)}` : ''}: ${issue.message}`)
        continue
      }
      const p = parsedPolicy.data
      const at = (field: string, msg: string) => problems.push(`rotations.${name}.${field}: ${msg}`)
      const dur = (field: string, text: string | undefined, dflt: string): number => {
        try {
          return parseDuration(text ?? dflt, field)
        } catch (e) {
          at(field, (e as Error).message)
          return 0
        }
      }
      for (const req of REQUIRED[p.provider](p)) {
        const [field, msg] = req.split(/: (.*)/s)
        at(field!, msg!)
      }
      let schedule: Schedule | undefined
      if (p.schedule !== undefined) {
        try {
          schedule = parseSchedule(p.schedule)
        } catch (e) {
          at('schedule', (e as Error).message)
        }
      }
      let window: Window | undefined
      if (p.window !== undefined) {
        try {
          window = parseWindow(p.window)
        } catch (e) {
          at('window', (e as Error).message)
        }
      }
      const graceMs = dur('grace', p.grace, POLICY_DEFAULTS.grace)
      const revokeIdleMs = dur('revoke.idle', p.revoke?.idle, POLICY_DEFAULTS.idle)
      const revokeMaxMs = dur('revoke.max', p.revoke?.max, POLICY_DEFAULTS.max)
      if (revokeMaxMs < graceMs) at('revoke.max', 'must be at least the grace period')
      const noticeMs = dur('notice', p.notice, POLICY_DEFAULTS.notice)
      const jitterMs = dur('jitter', p.jitter, window ? '1h' : '0')
      const verifyTimeoutMs = dur('verify_timeout', p.verify_timeout, POLICY_DEFAULTS.verifyTimeout)
      if (knownEnvironments) {
        for (const [i, t] of p.targets.entries()) {
          if (!knownEnvironments.includes(t)) at(`targets[${i}]`, `unknown environment "${t}" (known: ${knownEnvironments.join(', ') || 'none'})`)
        }
      }
      if (new Set(p.targets).size !== p.targets.length) at('targets', 'lists an environment twice')
      if (p.single_credential && p.provider !== 'http' && p.provider !== 'command') at('single_credential', `only http and command providers declare it; ${p.provider} is fixed`)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && p.variable === undefined) at('variable', `"${name}" is not a valid variable name: set variable`)
      policies.push({
        name,
        variable: p.variable ?? name,
        provider: p.provider,
        targets: p.targets,
        schedule,
        window,
        jitterMs,
        noticeMs,
        graceMs,
        revokeIdleMs,
        revokeMaxMs,
        usedBy: p.used_by ?? [],
        criticality: p.criticality ?? 'medium',
        verify: p.verify ?? [{ provider: true }],
        verifyAttempts: p.verify_attempts ?? POLICY_DEFAULTS.verifyAttempts,
        verifyTimeoutMs,
        rollbackOnFailure: p.rollback_on_failure ?? true,
        allowInterruption: p.allow_interruption ?? false,
        options: p,
      })
    }
  }
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems.join('; ')}`)
  }
  return { policies, notify: notifyParsed.success ? (notifyParsed.data ?? []) : [] }
}

/** A fingerprint of what decides a policy's due time: the due-index is rebuilt when it changes. */
export function scheduleFingerprint(p: Policy): string {
  return [p.schedule?.text ?? '', p.window?.text ?? '', p.jitterMs, p.noticeMs].join('|')
}

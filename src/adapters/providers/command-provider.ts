import { AdapterError } from '../../core/errors.js'
import { sha256Hex } from '../../core/crypto/hash.js'
import type { CreateInput, Credential, CredentialProvider } from '../../core/rotation/ports.js'
import { runCommand } from './checks.js'

/**
 * The `command` provider: the user's scripts do the work. Values travel in environment
 * variables, never in arguments (which other users can see in the process list):
 *
 *   create          REKEY_SECRET, REKEY_RUN, REKEY_CURRENT_ID, REKEY_PROPOSED_VALUE
 *                   prints the new value, or JSON {"id": "...", "value": "..."}; should install
 *                   REKEY_PROPOSED_VALUE when it can (a re-run after a crash is then idempotent)
 *   revoke_command  REKEY_CREDENTIAL_ID, REKEY_VALUE          (idempotent)
 *   test            REKEY_CREDENTIAL_ID, REKEY_VALUE          exit 0 = works
 *   usage           REKEY_CREDENTIAL_ID, REKEY_VALUE          prints {"last_used_at": ISO|null}
 *   discard         REKEY_RUN, REKEY_PROPOSED_VALUE           (undo a create whose output was lost)
 *
 * A script exiting non-zero fails the step; its output is not shown (it may hold a value).
 */
export interface CommandProviderOptions {
  secretName: string
  cwd: string
  env: Record<string, string | undefined>
  create: string
  revoke: string
  test?: string
  usage?: string
  discard?: string
  singleCredential?: boolean
  timeoutMs?: number
}

const idOf = (value: string) => `cmd:${sha256Hex(value).slice(0, 12)}`

export function createCommandProvider(o: CommandProviderOptions): CredentialProvider {
  const exec = async (script: string, op: string, extra: Record<string, string>) => {
    const r = await runCommand(script, { cwd: o.cwd, env: { ...o.env, REKEY_SECRET: o.secretName, ...extra }, timeoutMs: o.timeoutMs ?? 60_000 })
    if (!r.ok) throw new AdapterError('command', op, `"${script}" failed: ${r.reason ?? 'error'}`, { retryable: true })
    return r.stdout
  }
  const credEnv = (c: Credential) => ({ REKEY_CREDENTIAL_ID: c.id, REKEY_VALUE: c.value })
  return {
    kind: 'command',
    capabilities: { dualCredential: !o.singleCredential, usage: o.usage !== undefined, acceptsValue: true },
    async identify(value) {
      return value === null ? null : { id: idOf(value), value }
    },
    async create(input: CreateInput) {
      const out = (await exec(o.create, 'create', { REKEY_RUN: input.runId, REKEY_CURRENT_ID: input.current?.id ?? '', REKEY_PROPOSED_VALUE: input.proposed })).trim()
      if (out.startsWith('{')) {
        try {
          const j = JSON.parse(out) as { id?: unknown; value?: unknown }
          if (typeof j.value === 'string' && j.value !== '') return { id: typeof j.id === 'string' ? j.id : idOf(j.value), value: j.value }
        } catch {
          // fall through
        }
        throw new AdapterError('command', 'create', `"${o.create}" printed JSON without a value`)
      }
      const value = out === '' ? input.proposed : out.split('\n')[0]!
      return { id: idOf(value), value }
    },
    async test(c) {
      if (!o.test) return { ok: true }
      const r = await runCommand(o.test, { cwd: o.cwd, env: { ...o.env, REKEY_SECRET: o.secretName, ...credEnv(c) }, timeoutMs: o.timeoutMs ?? 60_000 })
      return r.ok ? { ok: true } : { ok: false, reason: `"${o.test}" ${r.reason ?? 'failed'}` }
    },
    async promote() {},
    async revoke(c) {
      await exec(o.revoke, 'revoke', credEnv(c))
    },
    async reinstate() {},
    async discard(input) {
      if (o.discard) await exec(o.discard, 'discard', { REKEY_RUN: input.runId, REKEY_PROPOSED_VALUE: input.proposed })
    },
    async usage(c) {
      if (!o.usage) return undefined
      const out = (await exec(o.usage, 'usage', credEnv(c))).trim()
      try {
        const j = JSON.parse(out) as { last_used_at?: string | null }
        return { lastUsedAt: j.last_used_at ? new Date(j.last_used_at) : null }
      } catch {
        throw new AdapterError('command', 'usage', `"${o.usage}" did not print {"last_used_at": …}`)
      }
    },
  }
}

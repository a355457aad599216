import { AdapterError } from '../../core/errors.js'
import type { Clock } from '../../core/ports.js'
import type { CreateInput, Credential, CredentialProvider, CredentialUsage, ProviderCapabilities } from '../../core/rotation/ports.js'

/**
 * An in-memory credential provider that follows the port's rules (idempotent create for one
 * proposal, idempotent revoke, usage per credential). It is the reference the contract suite is
 * written against, and the fake the engine's tests use: `authenticate` is what a consumer sees,
 * `down` simulates an outage, `failNext` one failing operation.
 */
export interface MemoryProvider extends CredentialProvider {
  seed(value: string): Credential
  /** A consumer presenting a value: true when it is accepted. Every presentation is recorded (a revoked one too). */
  authenticate(value: string): boolean
  valid(): Credential[]
  down: boolean
  failNext(op: 'create' | 'test' | 'revoke' | 'reinstate' | 'usage'): void
  /** Values accepted by test() that would otherwise fail (to simulate a broken new key). */
  rejectTests: Set<string>
}

export function createMemoryProvider(o: { clock: Clock; capabilities?: Partial<ProviderCapabilities>; kind?: string }): MemoryProvider {
  const capabilities: ProviderCapabilities = { dualCredential: true, usage: true, acceptsValue: true, ...o.capabilities }
  const creds = new Map<string, { value: string; revoked: boolean; lastUsedAt: Date | null; proposal?: string }>()
  let n = 0
  const failing = new Set<string>()
  const check = (op: string) => {
    if (self.down) throw new AdapterError(o.kind ?? 'memory', op, 'provider unavailable', { retryable: true })
    if (failing.delete(op)) throw new AdapterError(o.kind ?? 'memory', op, 'injected failure', { retryable: true })
  }
  const find = (value: string) => [...creds.entries()].find(([, c]) => c.value === value)
  const self: MemoryProvider = {
    kind: o.kind ?? 'memory',
    capabilities,
    down: false,
    rejectTests: new Set(),
    seed(value) {
      const id = `v${++n}`
      creds.set(id, { value, revoked: false, lastUsedAt: null })
      return { id, value }
    },
    authenticate(value) {
      const hit = find(value)
      if (!hit) return false
      hit[1].lastUsedAt = o.clock.now()
      return !hit[1].revoked
    },
    valid: () => [...creds.entries()].filter(([, c]) => !c.revoked).map(([id, c]) => ({ id, value: c.value })),
    failNext: (op) => void failing.add(op),
    async identify(value) {
      if (value === null) return null
      const hit = find(value)
      return hit ? { id: hit[0], value } : { id: 'unknown', value }
    },
    async create(input: CreateInput) {
      check('create')
      const existing = [...creds.entries()].find(([, c]) => c.proposal === input.proposed && !c.revoked)
      if (existing) return { id: existing[0], value: existing[1].value }
      if (!capabilities.dualCredential) for (const c of creds.values()) c.revoked = true
      const id = `v${++n}`
      const value = capabilities.acceptsValue ? input.proposed : `gen_${id}_${input.proposed.slice(0, 8)}`
      creds.set(id, { value, revoked: false, lastUsedAt: null, proposal: input.proposed })
      return { id, value }
    },
    async test(c) {
      check('test')
      if (self.rejectTests.has(c.value)) return { ok: false, reason: 'rejected' }
      const hit = creds.get(c.id)
      return hit && !hit.revoked && hit.value === c.value ? { ok: true } : { ok: false, reason: 'credential not accepted' }
    },
    async promote() {},
    async revoke(c) {
      check('revoke')
      const hit = creds.get(c.id)
      if (hit) hit.revoked = true
    },
    async reinstate(previous) {
      check('reinstate')
      const hit = creds.get(previous.id)
      if (!hit || hit.revoked) throw new AdapterError(o.kind ?? 'memory', 'reinstate', `credential ${previous.id} is no longer valid`)
    },
    async discard(input) {
      const existing = [...creds.values()].find((c) => c.proposal === input.proposed)
      if (existing) existing.revoked = true
    },
    async usage(c): Promise<CredentialUsage | undefined> {
      check('usage')
      if (!capabilities.usage) return undefined
      return { lastUsedAt: creds.get(c.id)?.lastUsedAt ?? null }
    },
  }
  return self
}

import { Counter, Gauge, Registry } from 'prom-client'

/** The server's Prometheus metrics, on a registry of its own (never the global one). */
export function createMetrics(o: { keyStats?: () => Promise<{ active: number; revoked: number; expired: number; oldestActiveAgeSeconds: number }> } = {}) {
  const registry = new Registry()
  const verifications = new Counter({ name: 'rekey_key_verifications_total', help: 'API key verifications by result', labelNames: ['result'] as const, registers: [registry] })
  const deprecatedUse = new Counter({ name: 'rekey_key_deprecated_version_use_total', help: 'verifications that used a previous key version inside its grace window', registers: [registry] })
  const afterGrace = new Counter({
    name: 'rekey_key_old_version_use_after_grace_total',
    help: 'attempts to use a previous key version after its grace window ended',
    registers: [registry],
  })
  const rotations = new Counter({ name: 'rekey_rotations_total', help: 'rotations by outcome', labelNames: ['outcome'] as const, registers: [registry] })
  const authFailures = new Counter({ name: 'rekey_http_auth_failures_total', help: 'rejected API tokens by reason', labelNames: ['reason'] as const, registers: [registry] })
  const requests = new Counter({ name: 'rekey_http_requests_total', help: 'HTTP requests by route and status class', labelNames: ['route', 'status'] as const, registers: [registry] })
  if (o.keyStats) {
    const stats = o.keyStats
    let last: Awaited<ReturnType<typeof stats>> | undefined
    new Gauge({
      name: 'rekey_keys',
      help: 'API keys by status',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        last = await stats().catch(() => last)
        if (!last) return
        this.set({ status: 'active' }, last.active)
        this.set({ status: 'revoked' }, last.revoked)
        this.set({ status: 'expired' }, last.expired)
      },
    })
    new Gauge({
      name: 'rekey_key_age_oldest_seconds',
      help: 'age of the oldest active key version (time since its creation or last rotation)',
      registers: [registry],
      collect() {
        if (last) this.set(last.oldestActiveAgeSeconds)
      },
    })
  }
  // Pre-create the label sets so dashboards see zeros, not gaps.
  for (const r of ['valid', 'invalid', 'revoked', 'expired']) verifications.inc({ result: r }, 0)
  for (const r of ['succeeded', 'failed', 'rolled_back']) rotations.inc({ outcome: r }, 0)
  return { registry, verifications, deprecatedUse, afterGrace, rotations, authFailures, requests }
}

export type Metrics = ReturnType<typeof createMetrics>

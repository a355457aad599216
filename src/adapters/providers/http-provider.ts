import { AdapterError, AppError } from '../../core/errors.js'
import { hmacSha256Hex } from '../../core/crypto/hash.js'
import type { Clock } from '../../core/ports.js'
import type { CreateInput, Credential, CredentialProvider } from '../../core/rotation/ports.js'

/**
 * The `http` provider: a webhook contract for credential sources rekey does not ship. Every call
 * is `POST {endpoint}/{operation}` with a JSON body, signed:
 *
 *   X-Rekey-Timestamp: <unix seconds>
 *   X-Rekey-Signature: v1=<hex HMAC-SHA256(signing secret, "<timestamp>.<raw body>")>
 *
 * The receiver must check the signature in constant time and refuse timestamps older than five
 * minutes. Operations (2xx = success; any other status = failure, the body is not echoed):
 *
 *   identify  {value}                          → {id}
 *   create    {secret, run, current_id, proposed} → {id, value}   same `proposed` ⇒ same credential
 *   test      {id, value}                      → {ok, reason?}
 *   revoke    {id}                             → {}                idempotent
 *   reinstate {id, failed_id}                  → {}
 *   discard   {run, proposed}                  → {}                idempotent
 *   usage     {id}                             → {last_used_at: ISO | null}; 404/501: not reported
 *
 * A provider that allows only one credential at a time is declared in the policy with
 * `single_credential: true` (create then replaces the old credential in place).
 */
export interface HttpProviderOptions {
  endpoint: string
  signingSecret: string
  secretName: string
  clock: Clock
  singleCredential?: boolean
  timeoutMs?: number
  fetchImpl?: typeof fetch
}

export function signRequest(secret: string, timestamp: number, body: string): string {
  return `v1=${hmacSha256Hex(secret, `${timestamp}.${body}`)}`
}

export function createHttpProvider(o: HttpProviderOptions): CredentialProvider {
  const doFetch = o.fetchImpl ?? fetch
  const base = o.endpoint.replace(/\/+$/, '')
  let host = 'endpoint'
  try {
    host = new URL(base).host
  } catch {
    throw new AppError('CONFIG_INVALID', `http provider: endpoint is not a URL`)
  }
  async function call<T>(op: string, payload: unknown, o2: { allow404?: boolean } = {}): Promise<T | undefined> {
    const body = JSON.stringify(payload)
    const ts = Math.floor(o.clock.now().getTime() / 1000)
    let res: Response
    try {
      res = await doFetch(`${base}/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-rekey-timestamp': String(ts), 'x-rekey-signature': signRequest(o.signingSecret, ts, body) },
        body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
      })
    } catch (e) {
      throw new AdapterError('http', op, `${host}: ${(e as Error).name === 'TimeoutError' ? 'timed out' : 'connection failed'}`, { retryable: true })
    }
    const text = await res.text().catch(() => '')
    if (o2.allow404 && (res.status === 404 || res.status === 501)) return undefined
    if (!res.ok) throw new AdapterError('http', op, `${host}: HTTP ${res.status}`, { retryable: res.status >= 500 || res.status === 429 })
    try {
      return (text === '' ? {} : JSON.parse(text)) as T
    } catch {
      throw new AdapterError('http', op, `${host}: the response is not JSON`)
    }
  }
  return {
    kind: 'http',
    capabilities: { dualCredential: !o.singleCredential, usage: true, acceptsValue: true },
    async identify(value) {
      if (value === null) return null
      const r = await call<{ id?: string }>('identify', { value })
      if (!r?.id) throw new AdapterError('http', 'identify', `${host}: no id in the response`)
      return { id: r.id, value }
    },
    async create(input: CreateInput) {
      const r = await call<{ id?: string; value?: string }>('create', { secret: o.secretName, run: input.runId, current_id: input.current?.id ?? null, proposed: input.proposed })
      if (!r?.id || typeof r.value !== 'string' || r.value === '') throw new AdapterError('http', 'create', `${host}: the response lacks id or value`)
      return { id: r.id, value: r.value }
    },
    async test(c: Credential) {
      try {
        const r = await call<{ ok?: boolean; reason?: string }>('test', { id: c.id, value: c.value })
        return r?.ok === true ? { ok: true } : { ok: false, reason: typeof r?.reason === 'string' ? r.reason.slice(0, 200) : 'rejected' }
      } catch (e) {
        return { ok: false, reason: (e as Error).message }
      }
    },
    async promote() {},
    async revoke(c) {
      await call('revoke', { id: c.id })
    },
    async reinstate(previous, failed) {
      await call('reinstate', { id: previous.id, failed_id: failed.id })
    },
    async discard(input) {
      await call('discard', { run: input.runId, proposed: input.proposed })
    },
    async usage(c) {
      const r = await call<{ last_used_at?: string | null }>('usage', { id: c.id }, { allow404: true })
      if (!r) return undefined
      return { lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null }
    },
  }
}

import { last4 } from '../core/audit/mask.js'
import type { AuditLog } from '../core/audit/audit-event.js'
import type { VersionedSecretStore } from '../adapters/postgres/secret-store.js'
import type { ChangeListener } from '../adapters/postgres/listener.js'
import type { SecretsApi } from './deps.js'

/**
 * Secret reads and writes over a versioned SecretStore (the PostgreSQL backend), each audited by
 * name with the value masked to its last 4 characters at most. Values are cached per environment
 * and dropped on the environment's change notification, so a write on any instance is served
 * everywhere at once.
 */
export function createStoreSecretsService(o: {
  storeFor(env: string): VersionedSecretStore
  audit: Pick<AuditLog, 'append'>
  listener?: Pick<ChangeListener, 'on' | 'connected'>
  /** Audit every read (default true). */
  auditReads?: boolean
  /** Reads are audited in batches, one event per (env, name, actor) per interval, with a count. */
  readAuditMs?: number
}): SecretsApi & { flush(): Promise<void> } {
  // A read is not a change: its audit event is batched so a GET does not wait on the audit
  // chain's lock. Changes (put/delete) are audited before they happen, one event each.
  const reads = new Map<string, { env: string; name: string; actor: string; count: number; version: number }>()
  let timer: NodeJS.Timeout | undefined
  const flush = async () => {
    if (timer) clearTimeout(timer)
    timer = undefined
    const batch = [...reads.values()]
    reads.clear()
    for (const r of batch) await o.audit.append({ action: 'secret.read', target: r.name, env: r.env, actor: r.actor, detail: { version: r.version, count: r.count, trigger: 'serve' } })
  }
  const noteRead = (env: string, name: string, actor: string, version: number) => {
    const k = `${env}\u0000${name}\u0000${actor}`
    const r = reads.get(k)
    if (r) {
      r.count++
      r.version = version
    } else reads.set(k, { env, name, actor, count: 1, version })
    timer ??= setTimeout(() => void flush().catch(() => undefined), o.readAuditMs ?? 1000)
    timer.unref()
  }
  const stores = new Map<string, VersionedSecretStore>()
  const store = (env: string) => {
    let s = stores.get(env)
    if (!s) stores.set(env, (s = o.storeFor(env)))
    return s
  }
  const cache = new Map<string, Map<string, { value: string; version: number } | null>>()
  let gen = 0
  o.listener?.on('change', (e) => {
    if (e.kind === 'secret') {
      gen++
      cache.delete(e.id)
    }
  })
  o.listener?.on('reset', () => {
    gen++
    cache.clear()
  })
  const cached = o.listener !== undefined
  const drop = (env: string) => {
    gen++
    cache.delete(env)
  }

  return {
    flush,
    async get(env, name, { actor, version }) {
      let r: { value: string; version: number } | undefined
      if (version !== undefined) {
        const v = await store(env).getVersion(name, version)
        r = v === undefined ? undefined : { value: v, version }
      } else {
        const useCache = cached && o.listener!.connected
        const hit = useCache ? cache.get(env)?.get(name) : undefined
        if (hit !== undefined) r = hit ?? undefined
        else {
          const g = gen
          const s = store(env)
          const cur = await s.currentVersion(name)
          const value = cur > 0 ? await s.getVersion(name, cur) : undefined
          r = value === undefined ? undefined : { value, version: cur }
          if (useCache && g === gen) {
            let m = cache.get(env)
            if (!m) cache.set(env, (m = new Map<string, { value: string; version: number } | null>()))
            if (m.size < 100_000) m.set(name, r ?? null)
          }
        }
      }
      if (o.auditReads !== false && r) noteRead(env, name, actor, r.version)
      return r
    },
    async put(env, name, value, { actor }) {
      const s = store(env)
      const before = await s.currentVersion(name)
      await o.audit.append({ action: 'secret.set', target: name, env, actor, detail: { value: last4(value), version: before + 1, trigger: 'serve' } })
      await s.apply({ set: { [name]: value } })
      drop(env)
      return { env, name, version: await s.currentVersion(name) }
    },
    async delete(env, name, { actor }) {
      const s = store(env)
      if ((await s.currentVersion(name)) === 0) return false
      await o.audit.append({ action: 'secret.unset', target: name, env, actor, detail: { trigger: 'serve' } })
      await s.apply({ unset: [name] })
      drop(env)
      return true
    },
    list: (env, { prefix }) => store(env).list(prefix),
    versions: (env, name) => store(env).versions(name),
  }
}

import type { KeyEntry } from '../core/keys/key-entry.js'
import { keyMetadata } from '../core/keys/key-entry.js'
import { parseDuration } from '../core/time/duration.js'
import type { Clock } from '../core/ports.js'
import type { KeysService } from '../app/keys-service.js'
import type { KeyRepository } from '../core/keys/ports.js'
import type { KeysApi, KeyView } from './deps.js'

/** Key metadata for clients: no hashes, no values. */
export function keyView(e: KeyEntry, now: Date): KeyView {
  return {
    ...keyMetadata(e, now),
    versions: e.versions.map((v) => ({ version: v.version, created_at: v.created_at, grace_until: v.grace_until, revoked_at: v.revoked_at, last_used_at: v.last_used_at, use_count: v.use_count })),
  }
}

/**
 * The HTTP surface of the apiauth keys service: the same use cases the CLI runs, with the
 * PostgreSQL adapters injected. `serviceFor(actor)` gives a service whose audit events name the
 * caller's token.
 */
export function createKeysApi(o: { serviceFor(actor: string): KeysService; repo: Pick<KeyRepository, 'recordUse'> & { recordUseBatch?(u: { id: string; version: number; at: string; count: number }[]): Promise<void> }; clock: Clock }): KeysApi {
  const shared = o.serviceFor('rekey-serve')
  const view = (e: KeyEntry) => keyView(e, o.clock.now())
  return {
    async create(c) {
      const svc = o.serviceFor(c.actor)
      const base = { name: c.name, service: c.service, ...(c.expiresInDays === undefined ? {} : { expiryDays: c.expiresInDays }) }
      const r = c.type === 'jwt' ? await svc.generateJwt(base) : await svc.generateApiKey({ ...base, ...(c.rateLimit === undefined ? {} : { rateLimit: c.rateLimit }), ...(c.prefix === undefined ? {} : { prefix: c.prefix }) })
      return { key: r.key, entry: view(r.entry) }
    },
    async list(c) {
      return (await shared.list({ all: true, ...(c.service === undefined ? {} : { service: c.service }) })).map(view)
    },
    async get(id) {
      try {
        return view(await shared.get(id))
      } catch (e) {
        if ((e as { code?: string }).code === 'KEY_NOT_FOUND') return undefined
        throw e
      }
    },
    async rotate(id, c) {
      const r = await o.serviceFor(c.actor).rotate(id, {
        ...(c.grace === undefined ? {} : { graceMs: parseDuration(c.grace, 'grace') }),
        ...(c.expiresInDays === undefined ? {} : { expiryDays: c.expiresInDays }),
      })
      return { key: r.key, entry: view(r.entry) }
    },
    async revoke(id, c) {
      return view(await o.serviceFor(c.actor).revoke(id))
    },
    verify: (key) => shared.verify(key),
    async reportUse(uses) {
      if (o.repo.recordUseBatch) await o.repo.recordUseBatch(uses)
      else for (const u of uses) await o.repo.recordUse({ id: u.id, version: u.version, at: u.at })
    },
  }
}

import type { AuditLog } from '../core/audit/audit-event.js'
import type { TokenStore } from '../adapters/postgres/token-store.js'

/** Token use cases: each change writes its audit event first (if that fails, nothing changes). */
export function createTokensService(o: { tokens: TokenStore; audit: Pick<AuditLog, 'append'> }) {
  return {
    async create(c: { name: string; scopes: string[]; actor: string }) {
      // Validate before auditing so a refused token leaves no event.
      const { parseScopes } = await import('../adapters/postgres/token-store.js')
      const scopes = parseScopes(c.scopes)
      await o.audit.append({ action: 'api_token.create', target: c.name, detail: { scopes: scopes.join(' ') } })
      return o.tokens.create({ name: c.name, scopes, actor: c.actor })
    },
    async revoke(id: string) {
      const t = (await o.tokens.list()).find((x) => x.id === id)
      if (t) await o.audit.append({ action: 'api_token.revoke', target: id, detail: { name: t.name } })
      return o.tokens.revoke(id)
    },
  }
}

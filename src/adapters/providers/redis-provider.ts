import { Redis } from 'ioredis'
import { AdapterError, AppError } from '../../core/errors.js'
import { sha256Hex } from '../../core/crypto/hash.js'
import type { CreateInput, Credential, CredentialProvider } from '../../core/rotation/ports.js'
import { roleFromUrl, withCredentials } from './postgres-provider.js'

/**
 * A Redis ACL user with two passwords during the grace period: `ACL SETUSER u >new` adds the new
 * one, `ACL SETUSER u <old` removes the old one at revocation. Redis cannot tell which password
 * a connection used, so this provider reports no per-credential usage (the engine then revokes
 * at the end of the grace period). A credential id is `<user>:<first 12 hex of sha256(password)>`.
 */
function quiet(url: string): Redis {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 10_000 })
  // ioredis logs unhandled connection errors, which may hold the URL (and so the password).
  r.on('error', () => undefined)
  return r
}

function redisReason(e: unknown): string {
  const m = (e as Error).message ?? ''
  if (/WRONGPASS|NOAUTH|invalid username-password/i.test(m)) return 'authentication failed (WRONGPASS)'
  if (/NOPERM/.test(m)) return 'permission denied (NOPERM)'
  return 'connection failed'
}

export function createRedisProvider(o: { adminUrl: string; user: string }): CredentialProvider {
  let admin: Redis | undefined
  const run = async (args: string[], op: string, o2: { absentOk?: boolean } = {}) => {
    try {
      if (!admin) {
        admin = quiet(o.adminUrl)
        await admin.connect()
      }
      return await admin.call(args[0]!, ...args.slice(1))
    } catch (e) {
      // Removing a password that is already gone is success (revoke is idempotent). Redis echoes
      // the password in that error, so its text is never passed on.
      if (o2.absentOk && /does not exist/.test((e as Error).message ?? '')) return 'OK'
      throw new AdapterError('redis', op, redisReason(e), { retryable: true })
    }
  }
  const idOf = (password: string) => `${o.user}:${sha256Hex(password).slice(0, 12)}`
  const passwordOf = (c: Credential) => decodeURIComponent(roleFromUrl(c.value, 'redis').url.password)
  return {
    kind: 'redis',
    capabilities: { dualCredential: true, usage: false, acceptsValue: true },
    async identify(value) {
      if (value === null) return null
      const { user, url } = roleFromUrl(value, 'redis')
      if (user !== o.user) throw new AppError('CONFLICT', `redis: the targets use user ${user || '(default)'}, not ${o.user}`)
      return { id: idOf(decodeURIComponent(url.password)), value }
    },
    async create(input: CreateInput) {
      await run(['ACL', 'SETUSER', o.user, 'on', `>${input.proposed}`], 'create')
      return { id: idOf(input.proposed), value: withCredentials(input.current?.value ?? o.adminUrl, o.user, input.proposed) }
    },
    async test(c) {
      if (!/^rediss?:\/\//.test(c.value)) return { ok: false, reason: 'not a redis:// URL' }
      const r = quiet(c.value)
      try {
        await r.connect()
        const pong = await r.ping()
        return pong === 'PONG' ? { ok: true } : { ok: false, reason: 'no PONG' }
      } catch (e) {
        return { ok: false, reason: redisReason(e) }
      } finally {
        r.disconnect()
      }
    },
    async promote() {},
    async revoke(c) {
      let pw: string
      try {
        pw = passwordOf(c)
      } catch {
        return
      }
      await run(['ACL', 'SETUSER', o.user, `<${pw}`], 'revoke', { absentOk: true })
    },
    async reinstate(previous) {
      await run(['ACL', 'SETUSER', o.user, 'on', `>${passwordOf(previous)}`], 'reinstate')
    },
    async discard(input) {
      await run(['ACL', 'SETUSER', o.user, `<${input.proposed}`], 'discard', { absentOk: true })
    },
    async usage() {
      return undefined
    },
    async close() {
      admin?.disconnect()
      admin = undefined
    },
  }
}

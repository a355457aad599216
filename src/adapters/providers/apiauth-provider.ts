import { AppError } from '../../core/errors.js'
import type { Clock } from '../../core/ports.js'
import { hashKey } from '../../core/keys/api-key.js'
import type { KeyEntry, VersionUsage } from '../../core/keys/key-entry.js'
import { decideStatus } from '../../core/keys/verify.js'
import type { CreateInput, Credential, CredentialProvider } from '../../core/rotation/ports.js'

/**
 * The apiauth provider: a key of the apiauth keystore, versioned. `create` is the keys service's
 * rotate (the new version becomes current and the previous one stays valid through a grace
 * window long enough for the engine's revocation gate: revoke.max plus a day), `revoke` ends a
 * previous version, `reinstate` is the keys service's rollback, and usage is the per-version
 * last-used time that `verify` records. A credential id is `<key id>:v<version>`.
 *
 * The test of a credential is the same decision `verify` makes, without recording a use (so the
 * engine's own checks do not count as the new key being "seen in use").
 */
export interface ApiauthKeysPort {
  get(id: string): Promise<KeyEntry>
  rotate(id: string, o: { graceMs: number; trigger: 'auto' | 'manual' }): Promise<{ entry: KeyEntry; key: string }>
  revokeVersion(id: string, version: number, o: { trigger: 'auto' | 'manual' }): Promise<KeyEntry>
  rollback(id: string, o: { trigger: 'auto' | 'manual' }): Promise<KeyEntry>
  usage(id: string): Promise<VersionUsage[]>
}

export function createApiauthProvider(o: { keys: ApiauthKeysPort; keyId: string; clock: Clock; graceMs: number; trigger: 'auto' | 'manual'; close?: () => Promise<void> }): CredentialProvider {
  const { keys, keyId } = o
  const versionOf = (c: Credential): number => {
    const m = /:v(\d+)$/.exec(c.id)
    if (!m || !c.id.startsWith(`${keyId}:`)) throw new AppError('ADAPTER_FAILED', `apiauth: credential ${c.id} is not a version of key ${keyId}`)
    return Number(m[1])
  }
  const findVersion = (e: KeyEntry, value: string) => e.versions.find((v) => v.key_hash === hashKey(value))
  return {
    kind: 'apiauth',
    capabilities: { dualCredential: true, usage: true, acceptsValue: false },
    async identify(value) {
      if (value === null) return null
      const e = await keys.get(keyId)
      const v = findVersion(e, value)
      if (!v) throw new AppError('CONFLICT', `the targets hold a value that is not a version of apiauth key ${keyId}`, { hint: 'set the targets to the current key first (envault set), or check key_id' })
      return { id: `${keyId}:v${v.version}`, value }
    },
    async create(input: CreateInput) {
      const { entry, key } = await keys.rotate(keyId, { graceMs: o.graceMs, trigger: o.trigger })
      void input
      return { id: `${keyId}:v${entry.version}`, value: key }
    },
    async test(c) {
      let e: KeyEntry
      try {
        e = await keys.get(keyId)
      } catch (err) {
        return { ok: false, reason: err instanceof AppError ? err.message : 'keystore unavailable' }
      }
      const v = findVersion(e, c.value)
      if (!v) return { ok: false, reason: 'not a version of the key' }
      const r = decideStatus(e, v.version, o.clock.now())
      return r.status === 'VALID' ? { ok: true } : { ok: false, reason: r.reason ?? r.status }
    },
    async promote() {},
    async revoke(c) {
      const version = versionOf(c)
      const e = await keys.get(keyId)
      if (e.version === version) {
        // Revoking the current version: make the previous one current first (it was verified to work).
        await keys.rollback(keyId, { trigger: o.trigger })
        return
      }
      await keys.revokeVersion(keyId, version, { trigger: o.trigger })
    },
    async reinstate(previous, failed) {
      const e = await keys.get(keyId)
      if (e.version === versionOf(failed)) await keys.rollback(keyId, { trigger: o.trigger })
      else if (e.version !== versionOf(previous)) throw new AppError('CONFLICT', `apiauth key ${keyId} is at v${e.version}, neither v${versionOf(previous)} nor v${versionOf(failed)}`)
    },
    async discard(input) {
      // A rotate whose result was lost: if the key moved past the version the run started from, undo it.
      if (!input.current) return
      const e = await keys.get(keyId)
      if (e.version > versionOf(input.current) && e.versions.some((v) => v.version === versionOf(input.current!) && v.revoked_at === null)) {
        await keys.rollback(keyId, { trigger: o.trigger })
      }
    },
    async usage(c) {
      const version = versionOf(c)
      const u = (await keys.usage(keyId)).find((x) => x.version === version)
      return { lastUsedAt: u?.last_used_at ? new Date(u.last_used_at) : null }
    },
    ...(o.close ? { close: o.close } : {}),
  }
}

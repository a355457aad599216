import { AppError } from '../../core/errors.js'
import type { Sealer } from '../../core/rotation/ports.js'
import type { Keyring } from './keyring.js'

const PREFIX = 'pgdk1'

/**
 * Seals a rotation run's values (old, new, proposal) with the database's data key (envelope
 * encryption: the data key is wrapped by the master key, which never reaches the database). The
 * run id is bound as AAD, so a sealed blob cannot be moved to another run, and `rekey master
 * rotate` re-wraps the data key without touching runs in flight. Every instance holding the
 * master key can open what another instance sealed (a run killed on one host is finished by
 * another).
 */
export function createKeyringSealer(keyring: Keyring): Sealer {
  const aad = (place: string) => `rekey-run-secrets|${place}`
  return {
    async seal(values, place) {
      const { dataKeyId, enc } = keyring.seal(JSON.stringify(values), aad(place))
      return `${PREFIX}.${dataKeyId}.${enc.toString('base64')}`
    },
    async open(sealed, place) {
      const m = /^pgdk1\.(\d{1,9})\.([A-Za-z0-9+/=]+)$/.exec(sealed)
      if (!m) throw new AppError('STORE_CORRUPT', `the sealed values of run ${place} are not in the database's format`, { hint: 'was the run started with the file backend (without REKEY_DATABASE_URL)?' })
      const id = Number(m[1])
      const enc = Buffer.from(m[2]!, 'base64')
      const what = `the sealed values of run ${place}`
      let text: string
      try {
        text = keyring.open(id, enc, aad(place), what)
      } catch (e) {
        // A data key added by another instance since this one started: load it, then try again.
        if (!(e instanceof AppError) || e.code !== 'DECRYPT_FAILED') throw e
        await keyring.reload()
        text = keyring.open(id, enc, aad(place), what)
      }
      return JSON.parse(text) as Record<string, string>
    },
  }
}

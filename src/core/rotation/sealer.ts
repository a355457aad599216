import { openDocument, sealDocument } from '../crypto/aead.js'
import { newKdfParams, type MasterKeyMaterial } from '../crypto/kdf.js'
import type { Random } from '../ports.js'
import type { Sealer } from './ports.js'

const FORMAT = 'rekey-run-secrets'

/**
 * Seals the values a run needs to finish or roll back after a crash (the old value, the new one,
 * the proposal) with AES-256-GCM under the project's master key. The run id is bound as AAD, so
 * a sealed blob cannot be moved to another run.
 */
export function createAeadSealer(material: MasterKeyMaterial, random: Random): Sealer {
  return {
    async seal(values, place) {
      const kdf = newKdfParams(material, random.bytes(16))
      const text = await sealDocument({ format: FORMAT, place, material, kdf, plaintext: Buffer.from(JSON.stringify(values), 'utf8') }, random)
      return Buffer.from(text, 'utf8').toString('base64')
    },
    async open(sealed, place) {
      const text = Buffer.from(sealed, 'base64').toString('utf8')
      const { plaintext } = await openDocument(text, { format: FORMAT, place, material, what: `the sealed values of run ${place}` })
      return JSON.parse(plaintext.toString('utf8')) as Record<string, string>
    },
  }
}

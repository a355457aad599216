import { createCipheriv, createDecipheriv } from 'node:crypto'
import { AppError } from '../errors.js'
import type { Random } from '../ports.js'
import { deriveKey, type KdfParams, type MasterKeyMaterial } from './kdf.js'

/**
 * AES-256-GCM with a random 96-bit nonce per encryption.
 *
 * Binary envelope: MAGIC (4 bytes "RKY\0") | version (1 byte) | nonce (12) | tag (16) | ciphertext.
 * The header bytes are always part of the AAD, together with the caller's `aad`, which binds a
 * ciphertext to its place (a file kind, an environment and a variable name), so a value cannot
 * be moved or swapped without failing authentication.
 */
export const ENVELOPE_MAGIC = Buffer.from('RKY\0', 'latin1')
export const ENVELOPE_VERSION = 1
const HEADER = 5
const NONCE = 12
const TAG = 16

function header(): Buffer {
  return Buffer.concat([ENVELOPE_MAGIC, Buffer.from([ENVELOPE_VERSION])])
}

export function seal(key: Buffer, plaintext: Uint8Array, aad: string, random: Random): Buffer {
  if (key.length !== 32) throw new AppError('INTERNAL', 'AES-256-GCM needs a 32-byte key')
  const h = header()
  const nonce = random.bytes(NONCE)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(Buffer.concat([h, Buffer.from(aad, 'utf8')]))
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([h, nonce, cipher.getAuthTag(), ct])
}

/** Opens an envelope; a wrong key, a wrong place or any tampering gives DECRYPT_FAILED. */
export function open(key: Buffer, envelope: Uint8Array, aad: string, what: string): Buffer {
  const buf = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength)
  if (buf.length < HEADER + NONCE + TAG || !buf.subarray(0, 4).equals(ENVELOPE_MAGIC)) {
    throw new AppError('STORE_CORRUPT', `${what} is not a rekey envelope (bad magic or truncated)`)
  }
  const version = buf[4]
  if (version !== ENVELOPE_VERSION) {
    throw new AppError('STORE_CORRUPT', `${what} has unsupported envelope version ${version}`)
  }
  const nonce = buf.subarray(HEADER, HEADER + NONCE)
  const tag = buf.subarray(HEADER + NONCE, HEADER + NONCE + TAG)
  const ct = buf.subarray(HEADER + NONCE + TAG)
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce)
    d.setAAD(Buffer.concat([buf.subarray(0, HEADER), Buffer.from(aad, 'utf8')]))
    d.setAuthTag(tag)
    return Buffer.concat([d.update(ct), d.final()])
  } catch (cause) {
    throw new AppError('DECRYPT_FAILED', `cannot decrypt ${what}: wrong master key, or the data was altered`, { cause })
  }
}

/**
 * A sealed JSON document as stored on disk: a versioned wrapper naming the format, the KDF
 * parameters and the envelope. The format name and KDF parameters are part of the AAD too, so
 * editing them is detected.
 */
export interface SealedDocument {
  format: string
  version: 1
  kdf: KdfParams
  data: string // base64 envelope
}

function docAad(format: string, kdf: KdfParams, place: string): string {
  return `${format}|v1|${JSON.stringify(kdf)}|${place}`
}

export async function sealDocument(
  o: { format: string; place: string; material: MasterKeyMaterial; kdf: KdfParams; plaintext: Uint8Array },
  random: Random,
): Promise<string> {
  const key = await deriveKey(o.material, o.kdf)
  const env = seal(key, o.plaintext, docAad(o.format, o.kdf, o.place), random)
  const doc: SealedDocument = { format: o.format, version: 1, kdf: o.kdf, data: env.toString('base64') }
  return JSON.stringify(doc) + '\n'
}

/** Parses and opens a sealed document. `what` names the file in errors. */
export async function openDocument(
  text: string,
  o: { format: string; place: string; material: MasterKeyMaterial; what: string },
): Promise<{ plaintext: Buffer; kdf: KdfParams }> {
  let doc: SealedDocument
  try {
    doc = JSON.parse(text) as SealedDocument
  } catch {
    throw new AppError('STORE_CORRUPT', `${o.what} is corrupt (not valid JSON)`, { hint: 'restore it from the .prev generation beside it' })
  }
  if (typeof doc !== 'object' || doc === null || doc.format !== o.format || doc.version !== 1 || typeof doc.data !== 'string' || typeof doc.kdf !== 'object' || doc.kdf === null) {
    throw new AppError('STORE_CORRUPT', `${o.what} is corrupt or not a ${o.format} file`, { hint: 'restore it from the .prev generation beside it' })
  }
  const key = await deriveKey(o.material, doc.kdf)
  const plaintext = open(key, Buffer.from(doc.data, 'base64'), docAad(o.format, doc.kdf, o.place), o.what)
  return { plaintext, kdf: doc.kdf }
}

import { scrypt as scryptCb } from 'node:crypto'
import { AppError } from '../errors.js'

/** How a file's data key is derived from the master key material; stored in the envelope. */
export type KdfParams =
  | { alg: 'none' }
  | { alg: 'scrypt'; salt: string; N: number; r: number; p: number }

/** What the user gave as the master key: 32 raw bytes, or a passphrase to stretch. */
export type MasterKeyMaterial =
  | { kind: 'raw'; key: Buffer; source: string }
  | { kind: 'passphrase'; passphrase: string; source: string }

export const SCRYPT_DEFAULTS = { N: 1 << 15, r: 8, p: 1 } as const

/**
 * Reads a master key string: 64 hex characters or base64/base64url of exactly 32 bytes is a raw
 * key; anything else is a passphrase run through scrypt. `source` names where it came from (an
 * environment variable or a file), for error messages; the value itself is never echoed.
 */
export function parseMasterKeyMaterial(text: string, source: string): MasterKeyMaterial {
  const s = text.trim()
  if (s.length === 0) throw new AppError('MASTER_KEY_INVALID', `master key from ${source} is empty`)
  if (/^[0-9a-fA-F]{64}$/.test(s)) return { kind: 'raw', key: Buffer.from(s, 'hex'), source }
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
    const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (b.length === 32) return { kind: 'raw', key: b, source }
  }
  if (s.length < 12) {
    throw new AppError('MASTER_KEY_INVALID', `master key from ${source} is too short`, {
      hint: 'use 32 random bytes as hex or base64, or a passphrase of at least 12 characters',
    })
  }
  return { kind: 'passphrase', passphrase: s, source }
}

export function newKdfParams(material: MasterKeyMaterial, salt: Buffer): KdfParams {
  if (material.kind === 'raw') return { alg: 'none' }
  return { alg: 'scrypt', salt: salt.toString('base64'), ...SCRYPT_DEFAULTS }
}

const derived = new Map<string, Buffer>()

/** The 32-byte AES key for a file, given the material and the file's stored KDF parameters. */
export async function deriveKey(material: MasterKeyMaterial, kdf: KdfParams): Promise<Buffer> {
  if (kdf.alg === 'none') {
    if (material.kind !== 'raw') {
      throw new AppError('DECRYPT_FAILED', `master key from ${material.source} does not match: the file was sealed with a raw 32-byte key`)
    }
    return material.key
  }
  if (material.kind !== 'passphrase') {
    throw new AppError('DECRYPT_FAILED', `master key from ${material.source} does not match: the file was sealed with a passphrase`)
  }
  if (kdf.N > 1 << 20 || kdf.r > 32 || kdf.p > 16) {
    throw new AppError('STORE_CORRUPT', 'KDF parameters out of range')
  }
  // Memoised per process: one command may open several files sealed with the same salt.
  const memo = `${kdf.salt}:${kdf.N}:${kdf.r}:${kdf.p}:${material.passphrase}`
  const hit = derived.get(memo)
  if (hit) return hit
  const key = await new Promise<Buffer>((resolve, reject) => {
    scryptCb(material.passphrase, Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }, (err, key) => {
      if (err) reject(err)
      else resolve(key)
    })
  })
  derived.set(memo, key)
  return key
}

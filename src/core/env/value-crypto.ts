import { AppError } from '../errors.js'
import type { Random } from '../ports.js'
import { open, seal } from '../crypto/aead.js'

/**
 * Per-value encryption for .env files: `KEY=encrypted:v1:<base64 envelope>`. Names, comments and
 * layout stay readable; each value is AES-256-GCM with a fresh nonce, and the AAD binds it to its
 * project, environment and variable name so a value cannot be moved to another key or
 * environment. The version in the prefix lets the format change later.
 */
export const ENC_PREFIX = 'encrypted:v1:'

export function isEncryptedValue(v: string): boolean {
  return v.startsWith('encrypted:')
}

export function valueAad(project: string, env: string, key: string): string {
  return `envault|v1|${project}|${env}|${key}`
}

export function encryptValue(dataKey: Buffer, plaintext: string, aad: string, random: Random): string {
  return ENC_PREFIX + seal(dataKey, Buffer.from(plaintext, 'utf8'), aad, random).toString('base64')
}

/** `what` names the variable and file in errors (never the value). */
export function decryptValue(dataKey: Buffer, text: string, aad: string, what: string): string {
  if (!text.startsWith(ENC_PREFIX)) {
    throw new AppError('STORE_CORRUPT', `${what} uses an unknown encryption format (expected ${ENC_PREFIX}…)`)
  }
  const b64 = text.slice(ENC_PREFIX.length)
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new AppError('STORE_CORRUPT', `${what} is not valid ciphertext`)
  return open(dataKey, Buffer.from(b64, 'base64'), aad, what).toString('utf8')
}

import { createHmac, hash } from 'node:crypto'

/** SHA-256 of a UTF-8 string or bytes, lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  // The one-shot crypto.hash is about twice as fast as createHash for short inputs (the verify path).
  return hash('sha256', data, 'hex')
}

export function hmacSha256Hex(key: string | Uint8Array, data: string | Uint8Array): string {
  return createHmac('sha256', key).update(data).digest('hex')
}

import type { Random } from '../ports.js'

/** base64url (no padding) of `n` random bytes. */
export function randomBase64Url(random: Random, n: number): string {
  return random.bytes(n).toString('base64url')
}

export function randomHex(random: Random, nBytes: number): string {
  return random.bytes(nBytes).toString('hex')
}

/**
 * `length` characters drawn uniformly from `alphabet`, by rejection sampling so that no
 * character is more likely than another (a plain modulo would bias the first ones).
 */
export function randomFromAlphabet(random: Random, length: number, alphabet: string): string {
  const chars = [...alphabet]
  const n = chars.length
  if (n < 2 || n > 256) throw new RangeError('alphabet must hold 2..256 characters')
  const limit = 256 - (256 % n)
  let out = ''
  while (out.length < length) {
    const buf = random.bytes(Math.max(16, (length - out.length) * 2))
    for (const b of buf) {
      if (b >= limit) continue
      out += chars[b % n]
      if (out.length === length) break
    }
  }
  return out
}

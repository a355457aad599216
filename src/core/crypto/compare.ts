import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Constant-time equality for secrets of any length. Both sides are hashed first so that the
 * comparison takes the same time whatever the lengths, and `timingSafeEqual` never throws.
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

/**
 * The most of a secret that may appear in an audit record or a log: its last 4 characters, and
 * only when the value is long enough that 4 characters reveal little. Shorter values are fully
 * masked.
 */
export function last4(value: string): string {
  if (value.length < 12) return '****'
  return `…${value.slice(-4)}`
}

/** A fully masked value, for output that must show that a value exists without any of it. */
export const MASKED = '***'

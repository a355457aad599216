import type { ErrorCode } from '../core/errors.js'

/** 0 OK, 1 failed operation, 2 bad usage or invalid config, 3 partial failure, 130 interrupt. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, PARTIAL: 3, INTERRUPTED: 130 } as const

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'CONFIG_INVALID':
      return EXIT.USAGE
    case 'PARTIAL_FAILURE':
      return EXIT.PARTIAL
    case 'INTERRUPTED':
      return EXIT.INTERRUPTED
    default:
      return EXIT.FAILED
  }
}

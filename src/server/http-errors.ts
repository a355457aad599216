import { AppError, type ErrorCode } from '../core/errors.js'

/** The one mapping from error codes to HTTP statuses. Anything unknown is a 500. */
export const STATUS: Record<ErrorCode, number> = {
  USAGE: 400,
  CONFIG_INVALID: 400,
  PARSE_ERROR: 400,
  NOT_FOUND: 404,
  KEY_NOT_FOUND: 404,
  ENV_NOT_FOUND: 404,
  KEY_REVOKED: 409,
  KEY_EXPIRED: 409,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  IN_PROGRESS: 409,
  ROLLED_BACK: 409,
  NOT_CONFIGURED: 501,
  PERMISSION_DENIED: 403,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  RATE_LIMITED: 429,
  DECRYPT_FAILED: 500,
  STORE_CORRUPT: 500,
  STORE_LOCKED: 503,
  MASTER_KEY_MISSING: 500,
  MASTER_KEY_INVALID: 500,
  AUDIT_WRITE_FAILED: 503,
  AUDIT_CHAIN_BROKEN: 500,
  ADAPTER_FAILED: 502,
  STORE_AUTH_FAILED: 502,
  WRITE_ONLY: 409,
  VERIFY_FAILED: 422,
  PARTIAL_FAILURE: 207,
  INTERRUPTED: 503,
  INTERNAL: 500,
}

/** Codes whose message is safe to show a client (it names things, never values or paths). */
const CLIENT_SAFE = new Set<ErrorCode>([
  'USAGE', 'CONFIG_INVALID', 'PARSE_ERROR', 'NOT_FOUND', 'KEY_NOT_FOUND', 'ENV_NOT_FOUND', 'KEY_REVOKED', 'KEY_EXPIRED', 'CONFLICT',
  'ALREADY_EXISTS', 'IN_PROGRESS', 'ROLLED_BACK', 'NOT_CONFIGURED', 'PERMISSION_DENIED', 'FORBIDDEN', 'UNAUTHORIZED', 'RATE_LIMITED', 'VERIFY_FAILED',
])

export interface ErrorBody {
  error: { code: string; message: string; requestId: string }
}

/**
 * Renders an error for a client: `{"error":{"code","message","requestId"}}`. Server-side faults
 * get a generic message (the detail goes to the log only), so no stack, path, SQL or value leaks.
 */
export function errorResponse(e: unknown, requestId: string): { status: number; body: ErrorBody; internal: boolean } {
  if (e instanceof AppError) {
    const status = STATUS[e.code] ?? 500
    const safe = CLIENT_SAFE.has(e.code)
    const message = safe ? e.message : status === 503 ? 'the service is temporarily unavailable; retry' : status === 502 ? 'a backing service failed; retry' : 'internal error'
    return { status, body: { error: { code: safe || status !== 500 ? e.code : 'INTERNAL', message, requestId } }, internal: !safe }
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error', requestId } }, internal: true }
}

export class HttpError extends AppError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message)
  }
}

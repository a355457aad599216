/**
 * One error type with stable codes. Messages name the thing (a key id, a file, an environment),
 * never a secret value. Expected outcomes (an invalid key, a drifted environment) are values,
 * not throws: throw only when the caller cannot continue.
 */
export type ErrorCode =
  | 'USAGE' // bad flag, bad argument, bad duration
  | 'CONFIG_INVALID'
  | 'NOT_FOUND'
  | 'KEY_NOT_FOUND'
  | 'KEY_REVOKED'
  | 'KEY_EXPIRED'
  | 'ENV_NOT_FOUND'
  | 'DECRYPT_FAILED' // wrong master key or tampered ciphertext
  | 'STORE_CORRUPT'
  | 'STORE_LOCKED'
  | 'MASTER_KEY_MISSING'
  | 'MASTER_KEY_INVALID'
  | 'PARSE_ERROR'
  | 'CONFLICT'
  | 'ALREADY_EXISTS'
  | 'IN_PROGRESS'
  | 'NOT_CONFIGURED'
  | 'PERMISSION_DENIED'
  | 'AUDIT_WRITE_FAILED'
  | 'AUDIT_CHAIN_BROKEN'
  | 'ADAPTER_FAILED'
  | 'STORE_AUTH_FAILED' // a vendor store refused the credential (names the store, never the token)
  | 'WRITE_ONLY' // a write-only store (GitHub Actions secrets, Vercel sensitive) cannot return values
  | 'VERIFY_FAILED'
  | 'ROLLED_BACK'
  | 'PARTIAL_FAILURE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'INTERRUPTED'
  | 'INTERNAL'

export interface AppErrorOptions {
  retryable?: boolean
  hint?: string
  cause?: unknown
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, o: AppErrorOptions = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = o.retryable ?? false
    this.hint = o.hint
  }
}

/** An error from an adapter (a store, a provider, a destination), wrapping the vendor's error. */
export class AdapterError extends AppError {
  readonly adapter: string
  readonly operation: string

  constructor(adapter: string, operation: string, message: string, o: AppErrorOptions = {}) {
    super('ADAPTER_FAILED', `${adapter} ${operation}: ${message}`, o)
    this.adapter = adapter
    this.operation = operation
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError
}

export function usageError(message: string, hint?: string): AppError {
  return new AppError('USAGE', message, hint === undefined ? {} : { hint })
}

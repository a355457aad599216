/** Library entry: the use cases and core types. */
export { AppError, AdapterError, type ErrorCode } from './core/errors.js'
export type { Clock, Random, LockManager } from './core/ports.js'
export type { AuditEvent, AuditLog } from './core/audit/audit-event.js'

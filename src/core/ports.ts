/**
 * Ports shared across the domain. Core code never touches fs, net, process.env, Date.now or
 * Math.random directly: it receives these.
 */
export interface Clock {
  now(): Date
}

export interface Random {
  /** Cryptographically secure random bytes. */
  bytes(n: number): Buffer
}

/** A cross-process mutual-exclusion lock on a named resource. */
export interface LockManager {
  withLock<T>(resource: string, fn: () => Promise<T>): Promise<T>
}

export type { AuditLog, AuditEvent, AuditEventInput } from './audit/audit-event.js'

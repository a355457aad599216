/** Library entry: the use cases and core types. */
export { AppError, AdapterError, type ErrorCode } from './core/errors.js'
export type { Clock, Random, LockManager } from './core/ports.js'
export type { AuditEvent, AuditLog } from './core/audit/audit-event.js'

// apiauth: the key lifecycle (issue 2)
export { createKeysService, DEFAULT_GRACE_MS, type KeysService, type KeysServiceDeps, type IssuedKey, type RotateOptions, type Trigger, type VerifyResult, type VerifyStatus } from './app/keys-service.js'
export { createAuditService, type AuditService } from './app/audit-service.js'
export { openKeysService, type KeysHandle, type OpenKeysOptions } from './cli/compose-keys.js'
export { createFileKeystore, type FileKeystore } from './adapters/file/keystore-file.js'
export type { KeyEntry, KeyVersion, KeyUsage, VersionUsage } from './core/keys/key-entry.js'
export type { KeyRepository, KeyTx, SigningKeyStore } from './core/keys/ports.js'
export { systemClock, systemRandom, createFakeClock } from './adapters/system/system.js'

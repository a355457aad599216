import type { z } from 'zod'
import type { Fingerprinter, OwnershipLedger, SecretStore, StoreCapabilities } from '../../core/env/ports.js'
import type { Clock } from '../../core/ports.js'

/**
 * What a vendor store folder exports (src/adapters/stores/<vendor>/index.ts): its `type:` name in
 * .envault.yml, the zod schema of its options, its capabilities, and how to open one
 * environment in it. The composition root's store registry lists every module once; nothing
 * else switches on the vendor.
 */
export interface StoreOpenContext {
  /** The store's name under `stores:` (named in every error). */
  name: string
  /** The store's options as validated by the module's schema (type removed). */
  options: Record<string, unknown>
  /** The environment's place in the store (`path:` of the environment: a Vault path, a Doppler config, a 1Password item, …). */
  place: string
  /** The process environment: credentials and vendor base-URL conventions come only from here. */
  env: Record<string, string | undefined>
  /** rekey's own ownership/fingerprint records, for stores that cannot mark or read back. */
  ledger: OwnershipLedger
  fingerprinter: Fingerprinter
  clock: Clock
  /** Injected in tests (retry waits, GitHub's write spacing). */
  sleep?: (ms: number) => Promise<void>
}

export interface StoreModule<O extends z.ZodType = z.ZodType> {
  type: string
  options: O
  capabilities: StoreCapabilities
  open(ctx: StoreOpenContext): SecretStore
}

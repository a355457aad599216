import { isAbsolute, join } from 'node:path'
import { AppError } from '../../core/errors.js'
import type { SecretStore } from '../../core/env/ports.js'
import type { MasterKeyMaterial } from '../../core/crypto/kdf.js'
import type { Random } from '../../core/ports.js'
import type { EnvaultConfig, StoreConfig, StoreKind } from '../../config/envault-config.js'
import { createLocalFileStore } from './local-file-store.js'

export interface StoreContext {
  config: EnvaultConfig
  material: () => Promise<MasterKeyMaterial>
  random: Random
}

type StoreFactory = (s: StoreConfig, ctx: StoreContext) => SecretStore

function notYet(kind: string): StoreFactory {
  return (s) => {
    throw new AppError('NOT_CONFIGURED', `store "${s.name}" is a ${kind} store, which is not available in this version of envault; nothing was read or written`, {
      hint: 'only "type: local-file" stores work for now (Vault, AWS SSM, Doppler and 1Password come later)',
    })
  }
}

/** Every store kind, so a new kind will not compile until it is wired here. */
const FACTORIES = {
  'local-file': (s, ctx) => {
    const p = typeof s.options.path === 'string' && s.options.path !== '' ? s.options.path : `.envault-store.${s.name}.enc`
    return createLocalFileStore({ name: s.name, path: isAbsolute(p) ? p : join(ctx.config.dir, p), what: p, material: ctx.material, random: ctx.random })
  },
  vault: notYet('HashiCorp Vault'),
  'aws-ssm': notYet('AWS SSM'),
  doppler: notYet('Doppler'),
  '1password': notYet('1Password'),
} satisfies Record<StoreKind, StoreFactory>

/** Opens a configured store by name; an unknown name or an unavailable kind is a clear error. */
export function openStore(name: string, ctx: StoreContext): SecretStore {
  const s = ctx.config.stores.find((x) => x.name === name)
  if (!s) {
    const known = ctx.config.stores.map((x) => x.name)
    throw new AppError('NOT_CONFIGURED', `store "${name}" is not configured in .envault.yml`, {
      hint: known.length ? `configured stores: ${known.join(', ')}` : 'add it under stores:, e.g. stores: { local: { type: local-file } }',
    })
  }
  return FACTORIES[s.type](s, ctx)
}

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/cli.js'
import { secretStoreContract } from '../../core/env/secret-store.contract.js'
import { parseMasterKeyMaterial } from '../../core/crypto/kdf.js'
import { parseEnvaultConfig } from '../../config/envault-config.js'
import { createEnvService } from '../../app/env-service.js'
import { createEnvFileGateway, createEnvKeyring } from '../file/env-file-store.js'
import { createJsonlAuditLog } from '../file/audit-jsonl.js'
import { createFakeClock } from '../system/system.js'
import { createLocalFileStore } from './local-file-store.js'
import { openStore } from './store-registry.js'

const random = { bytes: (n: number) => randomBytes(n) }

secretStoreContract('local-file (raw key)', async () => {
  const dir = tempDir('store-')
  return createLocalFileStore({ name: 's', path: join(dir, 's.enc'), what: 's.enc', material: async () => parseMasterKeyMaterial('e'.repeat(64), 'K'), random })
})

function envProject(encrypted: boolean) {
  const dir = tempDir('envstore-')
  const text = 'project: p\nenvironments:\n  dev: .env.dev\n'
  writeFileSync(join(dir, '.env.dev'), encrypted ? 'SEED=x\n' : '')
  const config = parseEnvaultConfig(text, join(dir, '.envault.yml'))
  const svc = createEnvService({
    config,
    audit: createJsonlAuditLog({ path: join(dir, '.envault-audit.log'), clock: createFakeClock(), actor: 't' }),
    clock: createFakeClock(),
    random,
    actor: 't',
    keyring: createEnvKeyring({ project: 'p', keyFile: join(dir, '.envault.key'), env: { ENVAULT_MASTER_KEY: 'f'.repeat(64) } }),
    files: createEnvFileGateway(),
  })
  return { svc }
}

secretStoreContract('env file', async () => envProject(false).svc.openEnvironment('dev'))
secretStoreContract('encrypted env file', async () => {
  const { svc } = envProject(true)
  await svc.encrypt('dev')
  const s = svc.openEnvironment('dev')
  await s.apply({ unset: ['SEED'] })
  return s
})

describe('store registry', () => {
  const config = parseEnvaultConfig('project: p\nenvironments:\n  dev: .env.dev\nstores:\n  v: {type: vault}\n  ssm: {type: aws-ssm}\n  d: {type: doppler}\n  op: {type: 1password}\n  loc: {type: local-file, path: x.enc}\n', '/p/.envault.yml')
  const ctx = { config, material: async () => parseMasterKeyMaterial('e'.repeat(64), 'K'), random }
  it('names unavailable kinds clearly, never falling back to ./.env', () => {
    for (const n of ['v', 'ssm', 'd', 'op']) expect(() => openStore(n, ctx)).toThrow(expect.objectContaining({ code: 'NOT_CONFIGURED' }))
    expect(() => openStore('v', ctx)).toThrow(/HashiCorp Vault store, which is not available/)
    expect(() => openStore('nope', ctx)).toThrow(/store "nope" is not configured/)
    expect(openStore('loc', ctx).kind).toBe('local-file')
  })
})

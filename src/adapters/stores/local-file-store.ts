import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { AppError } from '../../core/errors.js'
import type { SecretStore } from '../../core/env/ports.js'
import { newKdfParams, type MasterKeyMaterial } from '../../core/crypto/kdf.js'
import { openDocument, sealDocument } from '../../core/crypto/aead.js'
import type { Random } from '../../core/ports.js'
import { writeFileAtomic } from '../file/atomic-write.js'
import { withFileLock } from '../file/file-lock.js'

const FORMAT = 'envault-local-store'

/**
 * A secret store in one local file: a JSON map of name → value sealed with AES-256-GCM under the
 * project's master key (the same key as encrypted .env files). Every change is a locked,
 * atomic rewrite.
 */
export function createLocalFileStore(o: { name: string; path: string; what: string; material: () => Promise<MasterKeyMaterial>; random: Random }): SecretStore {
  const place = `store:${o.name}`
  async function readAll(): Promise<Record<string, string>> {
    let text: string
    try {
      text = await fs.readFile(o.path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw new AppError('ADAPTER_FAILED', `cannot read the store file ${o.what}`, { cause: e })
    }
    const { plaintext } = await openDocument(text, { format: FORMAT, place, material: await o.material(), what: o.what })
    try {
      const data = JSON.parse(plaintext.toString('utf8')) as { secrets?: Record<string, string> }
      return data.secrets ?? {}
    } catch {
      throw new AppError('STORE_CORRUPT', `${o.what} is corrupt`)
    }
  }
  return {
    kind: 'local-file',
    capabilities: { delete: true, versions: false, list: true },
    async list(prefix) {
      return Object.keys(await readAll())
        .filter((k) => prefix === undefined || k.startsWith(prefix))
        .sort()
    },
    async get(name) {
      return (await readAll())[name]
    },
    async getAll() {
      return new Map(Object.entries(await readAll()))
    },
    async apply(changes) {
      await withFileLock(o.path, async () => {
        const cur = await readAll()
        for (const [k, v] of Object.entries(changes.set ?? {})) cur[k] = v
        for (const k of changes.unset ?? []) delete cur[k]
        const material = await o.material()
        const doc = await sealDocument({ format: FORMAT, place, material, kdf: newKdfParams(material, randomBytes(16)), plaintext: Buffer.from(JSON.stringify({ secrets: cur })) }, o.random)
        await writeFileAtomic(o.path, doc, { what: o.what })
      })
    },
  }
}

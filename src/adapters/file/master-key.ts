import { randomBytes } from 'node:crypto'
import { promises as fs, constants as fsc } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../../core/errors.js'
import { parseMasterKeyMaterial, type MasterKeyMaterial } from '../../core/crypto/kdf.js'
import { ensurePrivateDir } from './atomic-write.js'

export interface MasterKeySource {
  /** The environment variable that may hold the key, e.g. APIAUTH_MASTER_KEY. */
  envVar: string
  env: NodeJS.ProcessEnv | Record<string, string | undefined>
  /** The key file used when the variable is not set. */
  keyFile: string
  /** Create the key file when absent (true for first use of a store). */
  create: boolean
}

/**
 * Resolves the master key: the environment variable wins; otherwise a key file holding 32 random
 * bytes (hex), created exclusively with mode 0600 so two first runs cannot create two keys.
 */
export async function loadMasterKey(s: MasterKeySource): Promise<MasterKeyMaterial> {
  const fromEnv = s.env[s.envVar]
  if (fromEnv !== undefined && fromEnv !== '') return parseMasterKeyMaterial(fromEnv, s.envVar)
  try {
    const text = await fs.readFile(s.keyFile, 'utf8')
    return parseMasterKeyMaterial(text, s.keyFile)
  } catch (e) {
    if (e instanceof AppError) throw e
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AppError('MASTER_KEY_MISSING', `cannot read the master key file ${s.keyFile}`, { cause: e })
    }
  }
  if (!s.create) {
    throw new AppError('MASTER_KEY_MISSING', `no master key: set ${s.envVar} or create ${s.keyFile}`)
  }
  await ensurePrivateDir(join(s.keyFile, '..'))
  const hex = randomBytes(32).toString('hex')
  try {
    const h = await fs.open(s.keyFile, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600)
    try {
      await h.writeFile(hex + '\n')
      await h.sync()
    } finally {
      await h.close()
    }
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AppError('PERMISSION_DENIED', `cannot create the master key file ${s.keyFile}`, { cause: e })
    return parseMasterKeyMaterial(await fs.readFile(s.keyFile, 'utf8'), s.keyFile)
  }
  return parseMasterKeyMaterial(hex, s.keyFile)
}

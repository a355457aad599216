import { isAbsolute, join, resolve } from 'node:path'
import { AppError } from '../core/errors.js'

/**
 * The apiauth key directory: `--key-dir`/`-d`, else `APIAUTH_KEY_DIR`, else `$HOME/.apiauth`.
 * HOME comes from the CLI's environment (never os.homedir()), so tests and CI can isolate it.
 * A relative path is taken from the working directory.
 */
export function resolveKeyDir(opts: Record<string, unknown>, env: Record<string, string | undefined>, cwd: string): string {
  const flag = typeof opts.keyDir === 'string' ? opts.keyDir : undefined
  const chosen = flag ?? (env.APIAUTH_KEY_DIR !== undefined && env.APIAUTH_KEY_DIR !== '' ? env.APIAUTH_KEY_DIR : undefined)
  if (chosen !== undefined) {
    if (chosen.trim() === '') throw new AppError('USAGE', '--key-dir must not be empty')
    return isAbsolute(chosen) ? chosen : resolve(cwd, chosen)
  }
  const home = env.HOME ?? env.USERPROFILE
  if (home === undefined || home === '') {
    throw new AppError('CONFIG_INVALID', 'cannot find the key directory: HOME is not set', { hint: 'pass --key-dir or set APIAUTH_KEY_DIR' })
  }
  return join(home, '.apiauth')
}

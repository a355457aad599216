import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { DIST, tempDir } from '../helpers/cli.js'

export const MASTER = 'e2e0'.repeat(16)

/** A temp HOME with an `apiauth` shim on PATH pointing at the built bin (as `npm i -g` would). */
export function sandbox(extraEnv: Record<string, string> = {}) {
  const home = tempDir('rekey-e2e-')
  const bin = join(home, 'bin')
  mkdirSync(bin)
  const shim = join(bin, 'apiauth')
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${join(DIST, 'cli', 'apiauth.js')}" "$@"\n`)
  chmodSync(shim, 0o755)
  const env: Record<string, string> = { HOME: home, PATH: `${bin}:${process.env.PATH ?? ''}`, APIAUTH_MASTER_KEY: MASTER, REKEY_ACTOR: 'ci', ...extraEnv }
  return { home, bin, env, keyDir: join(home, '.apiauth') }
}

/** Runs a bash script the way GitHub Actions runs a `run:` block (bash --noprofile --norc -eo pipefail). */
export function bash(script: string, env: Record<string, string>, cwd: string) {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { env, cwd, encoding: 'utf8' })
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr }
}

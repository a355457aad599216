import { writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/cli.js'
import { createCommandProvider } from './command-provider.js'
import { credentialProviderContract } from './provider.contract.js'

/** A tiny credential service made of shell scripts over a directory of files (one per valid value). */
function scripts(dir: string) {
  const w = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\nset -e\nD="${dir}/valid"\nmkdir -p "$D"\n${body}\n`)
    chmodSync(join(dir, name), 0o700)
  }
  w('create.sh', 'echo "$REKEY_PROPOSED_VALUE" > "$D/$(printf %s "$REKEY_PROPOSED_VALUE" | sha256sum | cut -c1-16)"\nprintf %s "$REKEY_PROPOSED_VALUE"')
  w('revoke.sh', 'rm -f "$D/$(printf %s "$REKEY_VALUE" | sha256sum | cut -c1-16)"')
  w('test.sh', 'test -f "$D/$(printf %s "$REKEY_VALUE" | sha256sum | cut -c1-16)"')
  w('discard.sh', 'rm -f "$D/$(printf %s "$REKEY_PROPOSED_VALUE" | sha256sum | cut -c1-16)"')
  w('usage.sh', 'F="$D/$(printf %s "$REKEY_VALUE" | sha256sum | cut -c1-16).used"; if [ -f "$F" ]; then printf \'{"last_used_at":"%s"}\' "$(cat "$F")"; else echo \'{"last_used_at":null}\'; fi')
  return {
    create: './create.sh', revoke: './revoke.sh', test: './test.sh', discard: './discard.sh', usage: './usage.sh',
  }
}

async function sh(dir: string, cmd: string, value: string): Promise<boolean> {
  const { runCommand } = await import('./checks.js')
  return (await runCommand(cmd, { cwd: dir, env: { PATH: process.env.PATH, REKEY_VALUE: value }, timeoutMs: 10_000 })).ok
}

credentialProviderContract('command (user scripts)', async () => {
  const dir = tempDir()
  const s = scripts(dir)
  const initial = 'initial-command-credential-01'
  const { runCommand } = await import('./checks.js')
  await runCommand('./create.sh', { cwd: dir, env: { PATH: process.env.PATH, REKEY_PROPOSED_VALUE: initial }, timeoutMs: 10_000 })
  const provider = createCommandProvider({ secretName: 'K', cwd: dir, env: { PATH: process.env.PATH }, ...s })
  return {
    provider,
    initial,
    authenticate: (v) => sh(dir, './test.sh', v),
    use: async (v) => void (await sh(dir, 'F="valid/$(printf %s "$REKEY_VALUE" | sha256sum | cut -c1-16).used"; date -u +%Y-%m-%dT%H:%M:%SZ > "$F"', v)),
  }
})

describe('command provider', () => {
  it('a failing script fails the step without showing its output', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'bad.sh'), '#!/bin/sh\necho "leaked $REKEY_PROPOSED_VALUE"\nexit 3\n')
    chmodSync(join(dir, 'bad.sh'), 0o700)
    const p = createCommandProvider({ secretName: 'K', cwd: dir, env: { PATH: process.env.PATH }, create: './bad.sh', revoke: 'true' })
    const err = await p.create({ runId: 'rot_1', current: null, proposed: 'CANARY-proposed-value-123456' }).catch((e: Error) => e)
    expect((err as Error).message).toBe('command create: "./bad.sh" failed: exit 3')
  })
})

import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createHash } from 'node:crypto'

/**
 * Fixtures for the rekey e2e tests: a project folder with three env files, .envault.yml, a
 * rekey.yml, and a credential service made of shell scripts (the `command` provider) whose
 * valid credentials are files under `valid/`. Crash hooks are marker files the scripts consume
 * once: `crash.<op>` makes the script SIGKILL its parent (the rekey process) right after doing
 * its work, which is exactly "killed at any point" with no test-only code in src/.
 */
export const ENVS = ['staging', 'prod', 'dev'] as const

export function sha16(v: string): string {
  return createHash('sha256').update(v).digest('hex').slice(0, 16)
}

export function writeProject(dir: string, o: { secret: string; initial: string; policy?: string; notify?: string }): void {
  writeFileSync(join(dir, '.envault.yml'), ['project: e2e', 'environments:', '  dev: .env.dev', '  staging: .env.staging', '  prod: .env.prod', ''].join('\n'))
  for (const env of ENVS) writeFileSync(join(dir, `.env.${env}`), `APP_ENV=${env}\n${o.secret}=${o.initial}\n`, { mode: 0o600 })
  const valid = join(dir, 'valid')
  mkdirSync(valid, { recursive: true })
  writeFileSync(join(valid, sha16(o.initial)), '')
  const script = (name: string, body: string, hook?: string) => {
    // Kill the nearest node ancestor (the rekey process; /bin/sh -c may sit in between).
    const kill = hook ? `if [ -f "${dir}/crash.${hook}" ]; then rm -f "${dir}/crash.${hook}"; P=$PPID; while [ "$(cat /proc/$P/comm)" != node ]; do P=$(cut -d' ' -f4 /proc/$P/stat); done; kill -9 $P; sleep 5; fi\n` : ''
    writeFileSync(join(dir, name), `#!/bin/sh\nset -e\nD="${valid}"\nh() { printf %s "$1" | sha256sum | cut -c1-16; }\n${body}\n${kill}`)
    chmodSync(join(dir, name), 0o700)
  }
  script('create.sh', 'touch "$D/$(h "$REKEY_PROPOSED_VALUE")"\nprintf %s "$REKEY_PROPOSED_VALUE"', 'create')
  script('revoke.sh', 'rm -f "$D/$(h "$REKEY_VALUE")"', 'revoke')
  // fail.test (holding the hash of the one value still allowed) makes every other value fail its test.
  script('test.sh', `test -f "$D/$(h "$REKEY_VALUE")"\nF="${dir}/fail.test"; if [ -f "$F" ]; then test "$(h "$REKEY_VALUE")" = "$(cat "$F")"; fi`, 'test')
  script('discard.sh', 'rm -f "$D/$(h "$REKEY_PROPOSED_VALUE")"', 'discard')
  script('verify.sh', 'test -f "$D/$(h "$REKEY_VALUE")"', 'verify')
  writeFileSync(
    join(dir, 'rekey.yml'),
    o.policy ??
      [
        'rotations:',
        `  ${o.secret}:`,
        '    provider: command',
        '    create: ./create.sh',
        '    revoke_command: ./revoke.sh',
        '    test: ./test.sh',
        '    discard: ./discard.sh',
        '    targets: [staging, prod, dev]',
        '    schedule: every 30d',
        '    grace: "0"',
        '    revoke: { idle: "0", max: 1d }',
        '    verify_attempts: 1',
        '    verify:',
        '      - provider: true',
        '      - command: ./verify.sh',
        o.notify ?? 'notify:\n  - log: .rekey/notifications.log',
        '',
      ].join('\n'),
  )
}

export function envValue(dir: string, env: string, secret: string): string | undefined {
  const text = readFileSync(join(dir, `.env.${env}`), 'utf8')
  return new RegExp(`^${secret}=(.*)$`, 'm').exec(text)?.[1]
}

export function isValid(dir: string, value: string | undefined): boolean {
  return value !== undefined && existsSync(join(dir, 'valid', sha16(value)))
}

export function runFiles(dir: string): string[] {
  const d = join(dir, '.rekey', 'runs')
  return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => join(d, f)) : []
}

/** Every file rekey wrote in the project (journal, audit, notifications), for canary checks. */
export function projectText(dir: string): string {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (!e.name.startsWith('.env.') && e.name !== 'master.key') out.push(readFileSync(p, 'utf8'))
    }
  }
  if (existsSync(join(dir, '.rekey'))) walk(join(dir, '.rekey'))
  if (existsSync(join(dir, '.envault-audit.log'))) out.push(readFileSync(join(dir, '.envault-audit.log'), 'utf8'))
  return out.join('\n')
}

/** A Slack-compatible webhook receiver that keeps every body. */
export async function startWebhookSink(): Promise<{ url: string; bodies: string[]; close(): Promise<void> }> {
  const bodies: string[] = []
  const server: Server = createServer((req, res) => {
    let b = ''
    req.on('data', (d: Buffer) => (b += d.toString()))
    req.on('end', () => {
      bodies.push(b)
      res.writeHead(200)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/B000`, bodies, close: () => new Promise((r) => server.close(() => r())) }
}

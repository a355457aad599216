import type { Command } from 'commander'
import type { CliIO } from '../context.js'
import { lazyAction } from '../main.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, v]

/** Adds the key directory option every keys command takes. */
function keyDir(c: Command): Command {
  return c.option('-d, --key-dir <dir>', 'key directory (default: APIAUTH_KEY_DIR, else ~/.apiauth)')
}

/**
 * `apiauth …` / `rekey keys …`. Registration stays light: each command's module (and the crypto,
 * the keystore and jose) is imported only when that command runs.
 */
export function registerKeys(program: Command, io: CliIO): void {
  keyDir(program.description('API key and JWT lifecycle: generate, verify, rotate, revoke'))

  const generate = program.command('generate').description('create an API key or a JWT')
  lazyAction(
    io,
    keyDir(
      generate
        .command('api-key')
        .description('create an API key (shown once)')
        .requiredOption('--name <name>', 'a name for the key')
        .requiredOption('--service <service>', 'the service the key belongs to')
        .option('--expiry-days <days>', 'expire the key after this many days')
        .option('--rate-limit <n>', 'requests per minute recorded with the key')
        .option('--prefix <prefix>', 'key prefix (default: ak)'),
    ),
    async () => (await import('../commands/keys-generate.js')).generateApiKeyCommand,
  )
  lazyAction(
    io,
    keyDir(
      generate
        .command('jwt')
        .description('create an HS256-signed JWT (shown once)')
        .requiredOption('--name <name>', 'a name for the token')
        .requiredOption('--service <service>', 'the service the token belongs to')
        .option('--expiry-days <days>', 'expire the token after this many days')
        .option('--claim <key=value>', 'a custom claim (repeatable; not jti, iss, sub, exp, iat, nbf)', collect, []),
    ),
    async () => (await import('../commands/keys-generate.js')).generateJwtCommand,
  )
  lazyAction(
    io,
    keyDir(
      program
        .command('import')
        .description('import an existing key (only its hash and first 20 characters are kept)')
        .argument('<key>', 'the key value, or - to read it from stdin')
        .requiredOption('--name <name>', 'a name for the key')
        .requiredOption('--service <service>', 'the service the key belongs to')
        .option('--expiry-days <days>', 'expire the key after this many days'),
    ),
    async () => (await import('../commands/keys-import.js')).importCommand,
  )
  lazyAction(
    io,
    keyDir(
      program
        .command('rotate')
        .description('issue a new version of a key; the previous one stays valid (deprecated) during the grace window')
        .argument('<id>', 'key id')
        .option('--expiry-days <days>', 'restart the expiry clock: expire this many days from now')
        .option('--grace <duration>', 'how long the previous version keeps verifying (default 24h; 0 ends it now)'),
    ),
    async () => (await import('../commands/keys-rotate.js')).rotateCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('verify').description('check a key or JWT: exit 0 only when VALID').argument('<key>', 'the key or token, or - to read it from stdin')),
    async () => (await import('../commands/keys-verify.js')).verifyCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('revoke').description('revoke every version of a key, for good').argument('<id>', 'key id')),
    async () => (await import('../commands/keys-revoke.js')).revokeCommand,
  )
  lazyAction(
    io,
    keyDir(
      program
        .command('revoke-version')
        .description('end the grace window of a previous version now')
        .argument('<id>', 'key id')
        .argument('<version>', 'version number'),
    ),
    async () => (await import('../commands/keys-revoke.js')).revokeVersionCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('rollback').description('make the previous version current again and revoke the newest').argument('<id>', 'key id')),
    async () => (await import('../commands/keys-rollback.js')).rollbackCommand,
  )
  lazyAction(
    io,
    keyDir(
      program
        .command('list')
        .description('list active keys')
        .option('--service <service>', 'only keys of this service')
        .option('--show-expired', 'include expired and revoked keys'),
    ),
    async () => (await import('../commands/keys-list.js')).listCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('show').description('details of one key').argument('<id>', 'key id')),
    async () => (await import('../commands/keys-show.js')).showCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('history').description('the version timeline of a key').argument('<id>', 'key id')),
    async () => (await import('../commands/keys-show.js')).historyCommand,
  )
  lazyAction(io, keyDir(program.command('stats').description('counts by status, type and service')), async () => (await import('../commands/keys-stats.js')).statsCommand)
  lazyAction(
    io,
    keyDir(
      program
        .command('audit')
        .description('health report: expired, expiring and revoked keys')
        .option('--within <duration>', 'report keys expiring within this window', '7d')
        .option('--exit-on-expired', 'exit 1 when a key has expired')
        .option('--exit-on-revoked', 'exit 1 when a key is revoked'),
    ),
    async () => (await import('../commands/keys-audit.js')).auditCommand,
  )
  lazyAction(
    io,
    keyDir(
      program
        .command('export')
        .description('active keys metadata (never values or hashes) for shells, .env files, JSON or GitHub Actions')
        .option('--format <format>', 'env, dotenv, json or github-actions', 'env')
        .option('--service <service>', 'only keys of this service'),
    ),
    async () => (await import('../commands/keys-export.js')).exportCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('recover').description('restore a damaged keystore from its previous generation (keystore.enc.prev)')),
    async () => (await import('../commands/keys-recover.js')).recoverCommand,
  )
}

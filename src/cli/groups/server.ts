import type { Command } from 'commander'
import type { CliIO } from '../context.js'
import { lazyAction } from '../main.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, v]

/** The database flags shared by every PostgreSQL command. */
function db(c: Command): Command {
  return c
    .option('--database-url <url>', 'PostgreSQL URL (default: REKEY_DATABASE_URL)')
    .option('--schema <name>', 'schema holding rekey tables (default: REKEY_DATABASE_SCHEMA, else rekey)')
}

function master(c: Command): Command {
  return c.option('--master-key-file <file>', 'master key file (default: REKEY_MASTER_KEY, APIAUTH_MASTER_KEY, else <key dir>/master.key)')
}

/** `rekey serve|db|tokens|master`. Command modules (pg, prom-client, pino) load only when run. */
export function registerServer(program: Command, io: CliIO): void {
  lazyAction(
    io,
    master(
      db(
        program
          .command('serve')
          .description('run the HTTP API over PostgreSQL (keys, secrets, rotations, audit, metrics)')
          .option('--host <host>', 'address to listen on', '127.0.0.1')
          .option('--port <port>', 'port to listen on (0 picks a free one)', '8080')
          .option('--migrate', 'apply pending database migrations first')
          .option('--env <env>', 'environment served by the envault routes (/secrets, /secrets/NAME)')
          .option('--api-key <token>', 'accept this Bearer token on the envault routes (default: ENVAULT_API_KEY)')
          .option('--log-level <level>', 'info, warn, error or silent (default: REKEY_LOG_LEVEL, else info)')
          .option('--config <file>', 'rotation policies (rekey.yml or .envault.yml): enables /v1/rotations and the scheduler')
          .option('--tick-interval <duration>', 'how often the scheduler looks for due work (one instance runs it at a time)', '60s'),
      ),
    ),
    async () => (await import('../commands/server-serve.js')).serveCommand,
  )

  const dbc = program.command('db').description('the PostgreSQL backend: migrations and import from files')
  lazyAction(io, db(dbc.command('migrate').description('apply pending migrations (versioned, each once)')), async () => (await import('../commands/db-migrate.js')).dbMigrateCommand)
  lazyAction(
    io,
    master(
      db(
        dbc
          .command('import')
          .description('copy the file backend (apiauth keystore, .env files) into PostgreSQL')
          .option('-d, --key-dir <dir>', 'apiauth key directory to import (default: APIAUTH_KEY_DIR, else ~/.apiauth)')
          .option('--no-keys', 'do not import apiauth keys')
          .option('--dotenv <env=path>', 'import a .env file as environment env (repeatable)', collect, [])
          .option('--config <file>', 'import every environment of this .envault.yml'),
      ),
    ),
    async () => (await import('../commands/db-import.js')).dbImportCommand,
  )

  const tokens = program.command('tokens').description('scoped API tokens for rekey serve')
  lazyAction(
    io,
    master(
      db(
        tokens
          .command('create')
          .description('create a token (shown once; stored hashed)')
          .requiredOption('--name <name>', 'what the token is for')
          .requiredOption('--scope <scope>', 'admin, keys:verify, keys:read, keys:write, env:<env>:read, env:<env>:write, rotations:read, rotations:write, audit:read (repeatable)', collect, []),
      ),
    ),
    async () => (await import('../commands/tokens-create.js')).tokensCreateCommand,
  )
  lazyAction(io, master(db(tokens.command('list').description('list tokens (never their values)'))), async () => (await import('../commands/tokens-list.js')).tokensListCommand)
  lazyAction(
    io,
    master(db(tokens.command('revoke').description('revoke a token; every instance refuses it at once').argument('<id>', 'the token id (tok_…)'))),
    async () => (await import('../commands/tokens-revoke.js')).tokensRevokeCommand,
  )

  const m = program.command('master').description('the master key of the PostgreSQL backend')
  lazyAction(
    io,
    master(
      db(
        m
          .command('rotate')
          .description('re-wrap the database data key under a new master key, without downtime')
          .option('--new-key-env <VAR>', 'environment variable holding the new master key', 'REKEY_NEW_MASTER_KEY')
          .option('--new-key-file <file>', 'file holding the new master key'),
      ),
    ),
    async () => (await import('../commands/master-rotate.js')).masterRotateCommand,
  )
}

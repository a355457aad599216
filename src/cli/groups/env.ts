import type { Command } from 'commander'
import type { CliIO } from '../context.js'
import { lazyAction } from '../main.js'

const collect = (v: string, acc: string[]) => [...acc, v]

/** `envault …` / `rh-envault …` / `rekey env …`. Command modules load only when they run. */
export function registerEnv(program: Command, io: CliIO): void {
  program.description('environments in .env files and secret stores: diff, sync, rotate, export, serve, run')
  program.option('--config <path>', 'the project file (default: ./.envault.yml, or ENVAULT_CONFIG)')
  program.option('--backend <kind>', 'where environments without store: live: file (default) or postgres (REKEY_DATABASE_URL); or REKEY_ENV_BACKEND')
  const c = (spec: string, desc: string) => program.command(spec).description(desc)

  lazyAction(io, c('init <project>', 'create .envault.yml in the current directory').option('--force', 'overwrite an existing .envault.yml'), async () => (await import('../commands/env-init.js')).init)
  lazyAction(io, c('diff <src> <tgt>', 'key-level differences between two environments').option('--show-values', 'show secret values instead of masking them').option('--exit-code', 'exit 1 when the environments differ'), async () => (await import('../commands/env-diff.js')).diff)
  lazyAction(io, c('diff-files <f1> <f2>', 'diff two .env files directly (no project config needed)').option('--show-values', 'show secret values instead of masking them').option('--exit-code', 'exit 1 when the files differ'), async () => (await import('../commands/env-diff.js')).diffFiles)
  lazyAction(
    io,
    c('sync <src> <tgt>', 'copy variables from one environment to another, editing the target in place')
      .option('--dry-run', 'show what would change, write nothing')
      .option('--strategy <strategy>', 'on a differing value: source_wins, target_wins or error (default: conflict_strategy from .envault.yml)')
      .option('--allow-delete', 'remove keys from the target that are not in the source')
      .option('--skip <key>', 'leave this key alone (repeatable; skip_keys from .envault.yml always apply)', collect, [])
      .option('--show-values', 'show secret values instead of masking them'),
    async () => (await import('../commands/env-sync.js')).sync,
  )
  lazyAction(io, c('set <key> <value>', 'set a variable ("-" reads the value from stdin)').option('--env <name>', 'the environment'), async () => (await import('../commands/env-values.js')).set)
  lazyAction(io, c('get <key>', 'print a variable\'s value').option('--env <name>', 'the environment'), async () => (await import('../commands/env-values.js')).get)
  lazyAction(io, c('unset <key>', 'remove a variable').option('--env <name>', 'the environment'), async () => (await import('../commands/env-values.js')).unset)
  lazyAction(io, c('list', 'list the variables of an environment (secrets masked)').option('--env <name>', 'the environment').option('--show-values', 'show secret values'), async () => (await import('../commands/env-values.js')).list)
  lazyAction(
    io,
    c('rotate <key>', 'replace a secret with a new value of the type its name implies, in every environment that has it')
      .option('--env <name>', 'only this environment')
      .option('--dry-run', 'generate and show what would change, write nothing')
      .option('--show', 'print the generated value')
      .option('--length <n>', 'length of the generated part')
      .option('--per-env', 'give each environment its own value')
      .option('--force', 'rotate even a variable that does not look like a secret'),
    async () => (await import('../commands/env-rotate.js')).rotate,
  )
  lazyAction(
    io,
    c('rotate-all', 'rotate every secret-like variable of one environment in one write')
      .option('--env <name>', 'the environment')
      .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
      .option('--dry-run', 'show what would be rotated, write nothing')
      .option('--show', 'print the generated values')
      .option('--length <n>', 'length of the generated part'),
    async () => (await import('../commands/env-rotate.js')).rotateAll,
  )
  lazyAction(io, c('encrypt', 'encrypt every value of an environment (AES-256-GCM per value; names and comments stay readable)').option('--env <name>', 'the environment'), async () => (await import('../commands/env-crypt.js')).encrypt)
  lazyAction(io, c('decrypt', 'decrypt every value of an environment back to plain text').option('--env <name>', 'the environment'), async () => (await import('../commands/env-crypt.js')).decrypt)
  lazyAction(io, c('export', 'print an environment\'s values for a shell, a .env file, JSON or GitHub Actions').option('--env <name>', 'the environment').option('--format <format>', 'env, dotenv, json or github-actions', 'dotenv'), async () => (await import('../commands/env-export.js')).exportCmd)
  lazyAction(
    io,
    c('audit-log', 'show .envault-audit.log')
      .option('--filter <action>', 'only actions containing this text (rotate, sync, set, read, …)')
      .option('--since <when>', 'only events since a duration ago (24h, 7d) or an ISO date')
      .option('--env <name>', 'only this environment')
      .option('--key <name>', 'only this variable')
      .option('--verify', 'check the hash chain instead of listing'),
    async () => (await import('../commands/env-audit-log.js')).auditLog,
  )
  lazyAction(
    io,
    c('serve', 'serve an environment\'s secrets over HTTP with Bearer auth')
      .option('--port <port>', 'port to listen on', '8080')
      .option('--host <host>', 'address to bind (a non-loopback address needs a token)', '127.0.0.1')
      .option('--env <name>', 'the environment to serve')
      .option('--api-key <token>', 'the Bearer token (default: ENVAULT_API_KEY; on loopback a random one is generated)'),
    async () => (await import('../commands/env-serve.js')).serve,
  )
  lazyAction(
    io,
    c('run', 'run a command with an environment\'s variables').argument('<command...>', 'the command and its arguments (after --)').option('--env <name>', 'the environment').option('--override', 'file values win over variables already set in the process'),
    async () => (await import('../commands/env-run.js')).runCmd,
  )
  const store = program.command('store').description('secret stores configured under stores: in .envault.yml')
  lazyAction(io, store.command('list').description('list secret names').option('--store <name>', 'the store (default: every configured store)').option('--prefix <prefix>', 'only names starting with this'), async () => (await import('../commands/env-store.js')).storeList)
  lazyAction(io, store.command('get <key>').description('print a secret').requiredOption('--store <name>', 'the store'), async () => (await import('../commands/env-store.js')).storeGet)
  lazyAction(io, store.command('set <key> <value>').description('set a secret ("-" reads stdin)').requiredOption('--store <name>', 'the store'), async () => (await import('../commands/env-store.js')).storeSet)
  lazyAction(io, store.command('delete <key>').description('delete a secret').requiredOption('--store <name>', 'the store'), async () => (await import('../commands/env-store.js')).storeDelete)
}

import { Command, CommanderError } from 'commander'
import { AppError, isAppError } from '../core/errors.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { makeContext, type CliIO, type CommandContext } from './context.js'
import { safe } from './output.js'

export type Root = 'rekey' | 'apiauth' | 'envault'

export const VERSION = '0.1.0'

/**
 * Attaches a lazily loaded action: the command's module (and its dependencies) is imported only
 * when that command runs, so `--version` and `--help` start fast.
 */
export function lazyAction(
  io: CliIO,
  cmd: Command,
  load: () => Promise<(ctx: CommandContext, args: string[], opts: Record<string, unknown>) => Promise<number | void>>,
): Command {
  return cmd.action(async (...all: unknown[]) => {
    const self = all[all.length - 1] as Command
    const args = self.processedArgs as unknown[]
    const flat = args.flatMap((a) => (Array.isArray(a) ? (a as string[]) : typeof a === 'string' ? [a] : []))
    const fn = await load()
    const ctx = makeContext(io, self)
    const code = await fn(ctx, flat, ctx.opts)
    if (typeof code === 'number' && code !== 0) throw new ExitCode(code)
  })
}

/** Thrown by an action to end with a given code without an error message (e.g. verify → INVALID). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
  }
}

async function buildProgram(root: Root, io: CliIO): Promise<Command> {
  const program = new Command(root === 'envault' ? 'envault' : root)
  program
    .version(VERSION, '-V, --version')
    .option('--json', 'machine-readable JSON output')
    .option('--actor <name>', 'who is acting, for the audit log (default: REKEY_ACTOR, the CI actor, or the OS user)')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(s.endsWith('\n') ? s : s + '\n'),
    })
  program.configureHelp({ helpWidth: 10_000 })
  const { registerKeys } = await import('./groups/keys.js')
  const { registerEnv } = await import('./groups/env.js')
  if (root === 'apiauth') {
    registerKeys(program, io)
  } else if (root === 'envault') {
    registerEnv(program, io)
  } else {
    registerKeys(program.command('keys').description('API keys and JWTs (same as the apiauth command)'), io)
    registerEnv(program.command('env').description('environments and .env files (same as the envault command)'), io)
    const { registerRekey } = await import('./groups/rekey.js')
    registerRekey(program, io)
  }
  // Every subcommand inherits the error handling, output and the global --json flag.
  const inherit = (c: Command) => {
    for (const sub of c.commands) {
      sub.exitOverride().configureOutput(program.configureOutput()).configureHelp({ helpWidth: 10_000 })
      if (!sub.options.some((o) => o.long === '--json')) sub.option('--json', 'machine-readable JSON output')
      inherit(sub)
    }
  }
  inherit(program)
  return program
}

/**
 * Runs one CLI invocation and returns its exit code. This is the only place errors become exit
 * codes; `bin` entry points call it and then `process.exit`.
 */
export async function run(root: Root, argv: string[], io: CliIO): Promise<number> {
  const program = await buildProgram(root, io)
  const json = argv.includes('--json')
  try {
    await program.parseAsync(argv, { from: 'user' })
    return EXIT.OK
  } catch (e) {
    if (e instanceof ExitCode) return e.code
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK
      if (e.code === 'commander.executeSubCommandAsync') return EXIT.OK
      // Commander has already printed its one-line message.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    }
    const err = isAppError(e) ? e : new AppError('INTERNAL', 'internal error', { cause: e })
    if (json) {
      io.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } }) + '\n')
    } else {
      io.stderr.write(`error: ${safe(err.message)}\n`)
      if (err.hint) io.stderr.write(`hint: ${safe(err.hint)}\n`)
      if (err.code === 'INTERNAL' && io.env.REKEY_DEBUG) io.stderr.write(`${String((e as Error).stack ?? e)}\n`)
    }
    return exitCodeFor(err.code)
  }
}

/** Entry used by the bins. */
export async function main(root: Root): Promise<never> {
  const io: CliIO = { cwd: process.cwd(), env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }
  const code = await run(root, process.argv.slice(2), io)
  // Let stdout drain before exiting (large JSON to a pipe).
  await new Promise<void>((r) => (process.stdout.writableNeedDrain ? process.stdout.once('drain', () => r()) : r()))
  process.exit(code)
}

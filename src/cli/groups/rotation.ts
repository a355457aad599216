import type { Command } from 'commander'
import type { CliIO } from '../context.js'
import { lazyAction } from '../main.js'

function config(c: Command): Command {
  return c.option('--config <file>', 'policy file (default: REKEY_CONFIG, rekey.yml, else .envault.yml)')
}

/**
 * `rekey rotate|resume|rollback|plan|tick|daemon|status|history|postpone|quickstart`.
 * Registration stays light: the engine, the providers and their drivers load when a command runs.
 */
export function registerRotation(program: Command, io: CliIO): void {
  const run = async () => import('../commands/rotation-run.js')
  const sched = async () => import('../commands/rotation-schedule.js')
  const status = async () => import('../commands/rotation-status.js')
  lazyAction(
    io,
    config(
      program
        .command('rotate')
        .description('rotate a secret everywhere: create, stage, verify, promote, then revoke the old credential once idle')
        .argument('<name>', 'the policy (secret) name')
        .option('--dry-run', 'print the plan; change nothing')
        .option('--emergency', 'a leaked credential: skip the grace period and revoke the old one as soon as the new one is verified')
        .option('--force', 'rotate even if the targets hold different values (drift)'),
    ),
    async () => (await run()).rotateCommand,
  )
  lazyAction(io, config(program.command('resume').description('finish (or roll back) an interrupted run').argument('<run>', 'run id (rot_…)')), async () => (await run()).resumeCommand)
  lazyAction(io, config(program.command('rollback').description('during the grace period: make the previous credential current again everywhere').argument('<name>', 'the policy (secret) name')), async () => (await run()).rollbackCommand)
  lazyAction(io, config(program.command('plan').description('what is due and why: next rotations, notices, pending revocations')), async () => (await sched()).planCommand)
  lazyAction(io, config(program.command('tick').description('do everything that is due, once (idempotent; run it from cron or CI)')), async () => (await sched()).tickCommand)
  lazyAction(
    io,
    config(program.command('daemon').description('run tick continuously until SIGTERM').option('--interval <duration>', 'longest wait between ticks', '60s')),
    async () => (await sched()).daemonCommand,
  )
  lazyAction(io, config(program.command('status').description('every secret: provider, version, age, next rotation, state, targets in sync, last result')), async () => (await status()).statusCommand)
  lazyAction(io, config(program.command('history').description('the rotation runs of a secret').argument('<name>', 'the policy (secret) name')), async () => (await status()).historyCommand)
  lazyAction(
    io,
    config(program.command('postpone').description('postpone the next scheduled rotation (answers a notice); audited').argument('<name>', 'the policy (secret) name').argument('<duration>', 'for how long, e.g. 30d')),
    async () => (await sched()).postponeCommand,
  )
  lazyAction(
    io,
    program
      .command('quickstart')
      .description('create a demo project and run one full rotation end to end against a local service')
      .argument('[dir]', 'folder to create', 'rekey-quickstart'),
    async () => (await import('../commands/rotation-quickstart.js')).quickstartCommand,
  )
}

import type { Command } from 'commander'
import type { CliIO } from '../context.js'
import { lazyAction } from '../main.js'

const keyDir = (c: Command): Command => c.option('-d, --key-dir <dir>', 'apiauth key directory holding audit.jsonl (default: APIAUTH_KEY_DIR, else ~/.apiauth)')

/** `rekey audit log|export|verify`: the apiauth key directory's audit.jsonl and ./.envault-audit.log, merged by time. */
export function registerAudit(program: Command, io: CliIO): void {
  lazyAction(
    io,
    keyDir(
      program
        .command('log')
        .description('show audit events, oldest first')
        .option('--since <when>', 'only events since a duration ago (24h, 7d) or an ISO date')
        .option('--filter <action>', 'only actions containing this text (e.g. rotate, api_key.revoke)'),
    ),
    async () => (await import('../commands/audit-log.js')).auditLogCommand,
  )
  lazyAction(
    io,
    keyDir(
      program
        .command('export')
        .description('export events for compliance: CSV (timestamp, secret, target, old/new last 4, triggered by, status) or JSON')
        .option('--format <format>', 'csv or json', 'csv')
        .option('--since <when>', 'only events since a duration ago (24h, 7d) or an ISO date')
        .option('--filter <action>', 'only actions containing this text'),
    ),
    async () => (await import('../commands/audit-log.js')).auditExportCommand,
  )
  lazyAction(
    io,
    keyDir(program.command('verify').description('check every audit hash chain; exit 1 naming the file and record on a break')),
    async () => (await import('../commands/audit-log.js')).auditVerifyCommand,
  )
}

import type { Command } from 'commander'
import type { CliIO } from '../context.js'
import { registerAudit } from './audit.js'
import { registerRotation } from './rotation.js'
import { registerServer } from './server.js'

/** The orchestrator's own commands (beside `rekey keys` and `rekey env`). */
export function registerRekey(program: Command, io: CliIO): void {
  program.description('zero-downtime secret rotation: apiauth keys, envault environments, and the rotation engine')
  registerAudit(program.command('audit').description('the hash-chained audit log: log, export, verify'), io)
  registerRotation(program, io)
  registerServer(program, io)
}

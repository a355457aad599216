import type { Command } from 'commander'
import type { CliIO } from '../context.js'

/** `apiauth …` / `rekey keys …`. */
export function registerKeys(program: Command, _io: CliIO): void {
  program.description('API key and JWT lifecycle: generate, verify, rotate, revoke')
}

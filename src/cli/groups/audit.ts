import type { Command } from 'commander'
import type { CliIO } from '../context.js'

/** `rekey audit log|export|verify`. */
export function registerAudit(_program: Command, _io: CliIO): void {}

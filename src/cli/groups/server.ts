import type { Command } from 'commander'
import type { CliIO } from '../context.js'

/** `rekey serve|db|tokens|master`. */
export function registerServer(_program: Command, _io: CliIO): void {}

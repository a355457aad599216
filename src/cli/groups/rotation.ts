import type { Command } from 'commander'
import type { CliIO } from '../context.js'

/** `rekey rotate|status|plan|tick|daemon|rollback|resume|history|postpone|quickstart`. */
export function registerRotation(_program: Command, _io: CliIO): void {}

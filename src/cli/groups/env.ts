import type { Command } from 'commander'
import type { CliIO } from '../context.js'

/** `envault …` / `rh-envault …` / `rekey env …`. */
export function registerEnv(program: Command, _io: CliIO): void {
  program.description('environments in .env files and secret stores: diff, sync, rotate, export, serve, run')
}

import type { Command } from 'commander'
import type { Clock, Random } from '../core/ports.js'
import { createOutput, type Output, type Sink } from './output.js'
import { resolveActor } from './actor.js'
import { systemClock, systemRandom } from '../adapters/system/system.js'

/** What a CLI run sees of the world. In-process tests pass their own; the bins pass the process's. */
export interface CliIO {
  cwd: string
  env: Record<string, string | undefined>
  stdout: Sink
  stderr: Sink
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  /** Injected in tests to drive time; the system clock otherwise. */
  clock?: Clock
  random?: Random
}

export interface CommandContext {
  io: CliIO
  out: Output
  actor: string
  clock: Clock
  random: Random
  /** Options of the command and every parent (global flags like --json, --key-dir). */
  opts: Record<string, unknown>
}

export function makeContext(io: CliIO, cmd: Command): CommandContext {
  const opts = cmd.optsWithGlobals<Record<string, unknown>>()
  const json = opts.json === true
  return {
    io,
    out: createOutput({ stdout: io.stdout, stderr: io.stderr, env: io.env, json }),
    actor: resolveActor(typeof opts.actor === 'string' ? opts.actor : undefined, io.env),
    clock: io.clock ?? systemClock,
    random: io.random ?? systemRandom,
    opts,
  }
}

/** Reads all of stdin as UTF-8 (for `set KEY -`). */
export async function readStdin(io: CliIO): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of io.stdin as AsyncIterable<string | Buffer>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c)
  return Buffer.concat(chunks).toString('utf8')
}

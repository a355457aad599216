import { spawn } from 'node:child_process'
import { constants as osc } from 'node:os'
import { AppError } from '../../core/errors.js'
import type { CommandContext } from '../context.js'
import { envName, openFromContext } from './env-common.js'

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * `envault run --env E -- cmd args…`: runs the command with the environment's variables. By
 * default variables already set in the process win (as dotenv does); --override lets the file
 * win. SIGINT, SIGTERM and SIGHUP are passed on to the child; the exit code is the child's, or
 * 128 + the signal number when it was killed by a signal.
 */
export async function runCmd(ctx: CommandContext, argv: string[], opts: Record<string, unknown>): Promise<number> {
  const [cmd, ...args] = argv
  if (!cmd) throw new AppError('USAGE', 'run needs a command: envault run --env E -- cmd args…')
  const p = await openFromContext(ctx)
  try {
    const env = envName(ctx, p.config, opts)
    const values = await p.service.getAll(env)
    const childEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries(ctx.io.env)) if (v !== undefined) childEnv[k] = v
    for (const [k, v] of values) if (opts.override === true || childEnv[k] === undefined) childEnv[k] = v
    return new Promise<number>((resolve, reject) => {
      const child = spawn(cmd, args, { env: childEnv, stdio: 'inherit', cwd: ctx.io.cwd })
      const handlers = FORWARDED.map((sig) => {
        const h = () => {
          child.kill(sig)
        }
        process.on(sig, h)
        return [sig, h] as const
      })
      const cleanup = () => {
        for (const [sig, h] of handlers) process.off(sig, h)
      }
      child.once('error', (e: NodeJS.ErrnoException) => {
        cleanup()
        if (e.code === 'ENOENT') reject(new AppError('NOT_FOUND', `command not found: ${cmd}`))
        else reject(new AppError('ADAPTER_FAILED', `cannot run ${cmd}: ${e.code ?? 'error'}`, { cause: e }))
      })
      child.once('exit', (code, signal) => {
        cleanup()
        if (signal) resolve(128 + (osc.signals[signal] ?? 0))
        else resolve(code ?? 1)
      })
    })
  } finally {
    await p.close()
  }
}

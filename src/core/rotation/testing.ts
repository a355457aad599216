import { AppError } from '../errors.js'
import type { TargetStore } from './ports.js'

/** In-memory targets (environments) for engine tests: `down` makes one unreachable. */
export function createMemoryTargets(initial: Record<string, Record<string, string>>) {
  const envs = new Map(Object.entries(initial).map(([k, v]) => [k, new Map(Object.entries(v))]))
  const down = new Set<string>()
  /** Fails the next write to an environment (after reads succeed). */
  const failWrite = new Set<string>()
  const open = async (env: string): Promise<TargetStore> => {
    const m = envs.get(env)
    if (!m) throw new AppError('ENV_NOT_FOUND', `environment ${env} not found`)
    return {
      async get(name) {
        if (down.has(env)) throw new AppError('ADAPTER_FAILED', `environment ${env} is unreachable`, { retryable: true })
        return m.get(name)
      },
      async apply(changes) {
        if (down.has(env) || failWrite.delete(env)) throw new AppError('ADAPTER_FAILED', `environment ${env} is unreachable`, { retryable: true })
        for (const [k, v] of Object.entries(changes.set ?? {})) m.set(k, v)
        for (const k of changes.unset ?? []) m.delete(k)
      },
    }
  }
  return { open, down, failWrite, value: (env: string, name: string) => envs.get(env)?.get(name) }
}

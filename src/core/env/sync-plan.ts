import { AppError } from '../errors.js'

export const STRATEGIES = ['source_wins', 'target_wins', 'error'] as const
export type ConflictStrategy = (typeof STRATEGIES)[number]

export function parseStrategy(s: string, what = '--strategy'): ConflictStrategy {
  if ((STRATEGIES as readonly string[]).includes(s)) return s as ConflictStrategy
  throw new AppError('USAGE', `invalid ${what} "${s}": use ${STRATEGIES.join(', ')}`)
}

/** What a sync would do to the target (pure; computed before anything is written). */
export interface SyncPlan {
  add: { key: string; value: string }[]
  update: { key: string; from: string; to: string }[]
  remove: { key: string; value: string }[]
  /** Differing keys left as they are (target_wins). */
  kept: string[]
  /** Differing keys under the `error` strategy: when any, nothing is written. */
  conflicts: string[]
  skipped: string[]
}

export interface SyncOptions {
  strategy: ConflictStrategy
  allowDelete: boolean
  skip: ReadonlySet<string>
}

export function planSync(source: ReadonlyMap<string, string>, target: ReadonlyMap<string, string>, o: SyncOptions): SyncPlan {
  const p: SyncPlan = { add: [], update: [], remove: [], kept: [], conflicts: [], skipped: [] }
  for (const [key, value] of source) {
    if (o.skip.has(key)) {
      if (target.get(key) !== value) p.skipped.push(key)
      continue
    }
    const cur = target.get(key)
    if (cur === undefined) p.add.push({ key, value })
    else if (cur !== value) {
      if (o.strategy === 'source_wins') p.update.push({ key, from: cur, to: value })
      else if (o.strategy === 'target_wins') p.kept.push(key)
      else p.conflicts.push(key)
    }
  }
  if (o.allowDelete) {
    for (const [key, value] of target) {
      if (source.has(key)) continue
      if (o.skip.has(key)) p.skipped.push(key)
      else p.remove.push({ key, value })
    }
  }
  return p
}

export function planIsEmpty(p: SyncPlan): boolean {
  return p.add.length + p.update.length + p.remove.length === 0
}

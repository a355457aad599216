/**
 * Key-level differences between two environments (pure). Keys are listed in the order of the
 * file they come from.
 */
export interface EnvDiff {
  source: string
  target: string
  onlyInSource: { key: string; value: string }[]
  onlyInTarget: { key: string; value: string }[]
  different: { key: string; from: string; to: string }[]
  /** Keys present in both with identical values. */
  same: number
}

export function diffEnvs(source: string, a: ReadonlyMap<string, string>, target: string, b: ReadonlyMap<string, string>): EnvDiff {
  const d: EnvDiff = { source, target, onlyInSource: [], onlyInTarget: [], different: [], same: 0 }
  for (const [key, value] of a) {
    const other = b.get(key)
    if (other === undefined) d.onlyInSource.push({ key, value })
    else if (other !== value) d.different.push({ key, from: value, to: other })
    else d.same++
  }
  for (const [key, value] of b) if (!a.has(key)) d.onlyInTarget.push({ key, value })
  return d
}

export function hasDifferences(d: EnvDiff): boolean {
  return d.onlyInSource.length + d.onlyInTarget.length + d.different.length > 0
}

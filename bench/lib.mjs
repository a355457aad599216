// Shared helpers for benchmarks: timing, percentiles and ratio lines.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'

/** Runs fn repeatedly for about `ms` milliseconds; returns operations per second. */
export async function opsPerSec(fn, ms = 1000) {
  let n = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < ms) {
    for (let i = 0; i < 100; i++) await fn(i + n)
    n += 100
    t = performance.now()
  }
  return (n * 1000) / (t - t0)
}

/** Median wall time in ms of a whole process, over `runs` runs. */
export function processTime(cmd, args, opts = {}, runs = 5) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts })
    times.push(performance.now() - t0)
    if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  }
  return percentile(times, 50)
}

export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

export function fmt(n, digits = 1) {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits)
}

/** Prints one result line: name, value, baseline, ratio. */
export function report(name, value, unit, baseline, baselineName, higherIsBetter = true) {
  const ratio = higherIsBetter ? value / baseline : baseline / value
  console.log(`${name}: ${fmt(value)} ${unit} | ${baselineName}: ${fmt(baseline)} ${unit} | ratio ${ratio.toFixed(3)}`)
}

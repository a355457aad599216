// Shared helpers for benchmarks: timing, percentiles and ratio lines.
import { spawnSync } from 'node:child_process'
import { appendFileSync } from 'node:fs'
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

/** With `npm run bench -- --json`, every result is also appended to this file as a JSON line. */
export function record(r) {
  if (process.env.REKEY_BENCH_JSON) appendFileSync(process.env.REKEY_BENCH_JSON, JSON.stringify({ bench: process.argv[1]?.split('/').pop()?.replace('.bench.mjs', ''), ...r }) + '\n')
}

/** Prints one result line: name, value, baseline, ratio. */
export function report(name, value, unit, baseline, baselineName, higherIsBetter = true) {
  const ratio = higherIsBetter ? value / baseline : baseline / value
  console.log(`${name}: ${fmt(value)} ${unit} | ${baselineName}: ${fmt(baseline)} ${unit} | ratio ${ratio.toFixed(3)}`)
  record({ name, value, unit, baseline, baselineName, ratio })
}

/** Whether `taskset` can pin processes (a 2-core machine: server on core 0, client on core 1). */
const TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0

/** The command line that runs `args` pinned to `core` (or unpinned where taskset is missing). */
export function pinned(core, cmd, args) {
  return TASKSET ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args]
}

/**
 * HTTP load from a separate process (autocannon, bench/loadgen.mjs) pinned to core 1, away from
 * the server (start servers with `pinned(0, …)`). The same settings serve rekey and its baseline.
 * Returns { rps, p50, p99, errors, non2xx, clientCpu }.
 */
export function httpLoad(opts) {
  const [cmd, args] = pinned(1, process.execPath, [new URL('./loadgen.mjs', import.meta.url).pathname, JSON.stringify(opts)])
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

/** One line for an HTTP result against its baseline: throughput ratio, p50/p99 and the client's CPU use. */
export function reportHttp(name, ours, base, baseName = 'bare node:http') {
  const d = (r) => `p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, client CPU ${(r.clientCpu * 100).toFixed(0)}%${r.non2xx || r.errors ? `, ${r.non2xx + r.errors} failed` : ''}`
  report(`${name} (${d(ours)})`, ours.rps, 'req/s', base.rps, `${baseName} (${d(base)})`, true)
  record({ name: `${name} p99`, value: ours.p99, unit: 'ms', baseline: base.p99, baselineName: `${baseName} p99`, ratio: base.p99 / ours.p99 })
}

// Runs every bench/*.bench.mjs in its own process against the built dist/, in name order.
// Each benchmark prints its own ratio against a baseline measured in the same run.
// Usage: npm run bench [-- name-filter] [-- --json]
//   --json: the human lines go to stderr, and stdout gets one JSON document with every figure,
//   the date and the machine's core count.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const json = args.includes('--json')
const filter = args.find((a) => !a.startsWith('--')) ?? ''
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && f.includes(filter)).sort()
const tmp = json ? mkdtempSync(join(tmpdir(), 'rekey-bench-json-')) : undefined
const out = tmp ? join(tmp, 'results.jsonl') : undefined
let failed = 0
for (const f of files) {
  ;(json ? process.stderr : process.stdout).write(`\n## ${f.replace('.bench.mjs', '')}\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, f)], { stdio: ['inherit', json ? process.stderr : 'inherit', 'inherit'], env: { ...process.env, ...(out ? { REKEY_BENCH_JSON: out } : {}) } })
  if (r.status !== 0) failed++
}
if (out) {
  let lines = []
  try {
    lines = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  } catch {
    // no figures recorded
  }
  process.stdout.write(JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, node: process.version, results: lines }, null, 2) + '\n')
  rmSync(tmp, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)

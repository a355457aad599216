// Runs every bench/*.bench.mjs in its own process against the built dist/, in name order.
// Each benchmark prints its own ratio against a baseline measured in the same run.
// Usage: npm run bench [-- name-filter]
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2] ?? ''
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && f.includes(filter)).sort()
let failed = 0
for (const f of files) {
  console.log(`\n## ${f.replace('.bench.mjs', '')}`)
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, f)], { stdio: 'inherit' })
  if (r.status !== 0) failed++
}
process.exit(failed ? 1 : 0)

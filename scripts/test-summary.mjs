// Prints the plain closing line "tests: N passed, N failed, N skipped" from vitest's JSON report,
// so CI logs end with a count any reader can parse.
import { readFileSync } from 'node:fs'

const r = JSON.parse(readFileSync(process.argv[2] ?? '.tmp/vitest.json', 'utf8'))
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`)
process.exit(r.success && r.numTotalTests > 0 ? 0 : 1)

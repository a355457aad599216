// Rotation benchmarks (run against dist/, after `npm run build`):
//  1. One full rotation of an apiauth key into 3 .env file targets with `rekey rotate`, against
//     seed 000's steps done by separate apiauth/envault processes in the same run
//     (rotate, diff, set, sync x2, diff x2, verify).
//  2. `rekey tick` with 10,000 policies of which 100 are due, against 100 policies all due: the
//     cost should follow the due work, not the number of policies (ratio close to 1). The
//     policies use the http provider against a local endpoint in this process.
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { percentile, report } from './lib.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const bin = (name) => resolve(here, '..', 'dist', 'cli', `${name}.js`)
const base = mkdtempSync(join(tmpdir(), 'rekey-bench-'))
const ENV = { PATH: process.env.PATH, HOME: base, REKEY_MASTER_KEY: 'b'.repeat(64), APIAUTH_MASTER_KEY: 'c'.repeat(64), ENVAULT_MASTER_KEY: 'd'.repeat(64) }

function sh(name, args, cwd, input) {
  const r = spawnSync(process.execPath, [bin(name), ...args], { cwd, env: ENV, input, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

function timed(fn) {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

// ---- 1. one full rotation to 3 file targets --------------------------------------------------
function rotationProject() {
  const dir = mkdtempSync(join(base, 'rot-'))
  const out = sh('apiauth', ['generate', 'api-key', '--name', 'stripe', '--service', 'payments', '--key-dir', 'keys', '--json'], dir)
  const { id, key } = JSON.parse(out)
  writeFileSync(join(dir, '.envault.yml'), 'project: bench\nenvironments:\n  dev: .env.dev\n  staging: .env.staging\n  prod: .env.prod\n')
  for (const e of ['dev', 'staging', 'prod']) writeFileSync(join(dir, `.env.${e}`), `APP_ENV=${e}\nSTRIPE_API_KEY=${key}\n`)
  writeFileSync(join(dir, 'rekey.yml'), `rotations:\n  STRIPE_API_KEY:\n    provider: apiauth\n    key_id: ${id}\n    key_dir: keys\n    targets: [staging, prod, dev]\n    grace: "0"\n    revoke: { idle: "0", max: 1d }\n    verify:\n      - provider: true\n`)
  return { dir, id }
}

const ONLY = process.env.REKEY_BENCH_ONLY ?? ''
const RUNS = ONLY === 'tick' ? 0 : 5
const rekeyTimes = []
const toolTimes = []
for (let i = 0; i < RUNS; i++) {
  const a = rotationProject()
  // create, stage into 3 targets with read-back, verify, promote, revoke (emergency: no waiting)
  rekeyTimes.push(timed(() => sh('rekey', ['rotate', 'STRIPE_API_KEY', '--emergency'], a.dir)))
  const b = rotationProject()
  toolTimes.push(
    timed(() => {
      const { key } = JSON.parse(sh('apiauth', ['rotate', b.id, '--key-dir', 'keys', '--json'], b.dir))
      sh('envault', ['diff', 'staging', 'prod'], b.dir)
      sh('envault', ['set', 'STRIPE_API_KEY', '-', '--env', 'staging'], b.dir, key)
      sh('envault', ['sync', 'staging', 'prod'], b.dir)
      sh('envault', ['sync', 'staging', 'dev'], b.dir)
      sh('envault', ['diff', 'dev', 'staging'], b.dir)
      sh('envault', ['diff', 'staging', 'prod'], b.dir)
      sh('apiauth', ['verify', '-', '--key-dir', 'keys'], b.dir, key)
    }),
  )
}
if (RUNS > 0) report('rekey rotate, one full rotation to 3 file targets (median ms)', percentile(rekeyTimes, 50), 'ms', percentile(toolTimes, 50), 'separate apiauth/envault processes (8 steps)', false)

// ---- 2. tick with 10,000 policies of which 100 are due --------------------------------------
// The credential source is a local endpoint speaking the `http` provider's contract (one HTTP
// call per provider operation), so the numbers measure rekey, not process spawning.
const creds = new Map()
const server = createServer((req, res) => {
  let body = ''
  req.on('data', (d) => (body += d))
  req.on('end', () => {
    const op = req.url.split('/').pop()
    const b = JSON.parse(body || '{}')
    const send = (status, v) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(v ?? {}))
    }
    if (op === 'identify') return send(200, { id: `c-${b.value.slice(-12)}` })
    if (op === 'create') {
      creds.set(b.proposed, true)
      return send(200, { id: `c-${b.proposed.slice(-12)}`, value: b.proposed })
    }
    if (op === 'test') return send(200, { ok: true })
    if (op === 'usage') return send(404, { error: 'not tracked' })
    return send(200, {})
  })
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const endpoint = `http://127.0.0.1:${server.address().port}/rekey`
const TICK_ENV = { ...ENV, HOOK_SECRET: 'bench-signing-secret' }

function run(args, cwd) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin('rekey'), ...args], { cwd, env: TICK_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`rekey ${args.join(' ')} exited ${code}: ${err}`))))
  })
}

async function tickProject(total, due) {
  const dir = mkdtempSync(join(base, `tick-${total}-`))
  writeFileSync(join(dir, '.envault.yml'), 'project: bench\nenvironments:\n  prod: .env.prod\n')
  const lines = ['rotations:']
  const env = []
  for (let i = 0; i < total; i++) {
    lines.push(`  S${i}:`, '    provider: http', `    endpoint: "${endpoint}"`, '    signing_secret_env: HOOK_SECRET', '    targets: [prod]', `    schedule: every ${i < due ? '1d' : '365d'}`, '    grace: "0"', '    revoke: { idle: "0", max: 1d }')
    if (i < due) env.push(`S${i}=initial-value-${i}-0123456789`)
  }
  writeFileSync(join(dir, 'rekey.yml'), lines.join('\n') + '\n')
  writeFileSync(join(dir, '.env.prod'), env.join('\n') + '\n')
  await run(['tick'], dir) // builds the due-index; nothing is due yet
  // Make the first `due` policies due: rekey first saw them two days ago.
  const duePath = join(dir, '.rekey', 'due.json')
  const doc = JSON.parse(readFileSync(duePath, 'utf8'))
  const past = new Date(Date.now() - 2 * 86_400_000).toISOString()
  for (let i = 0; i < due; i++) doc.due[`S${i}`] = { ...doc.due[`S${i}`], at: 0, seen: past }
  writeFileSync(duePath, JSON.stringify(doc))
  return dir
}

async function tickTime(template, runs) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const dir = `${template}-copy${i}`
    cpSync(template, dir, { recursive: true })
    const t0 = performance.now()
    const r = JSON.parse(await run(['tick', '--json'], dir))
    times.push(performance.now() - t0)
    if (r.rotated.length !== 100 || r.rotated.some((x) => x.state !== 'done')) throw new Error(`expected 100 completed rotations, got ${JSON.stringify(r.rotated.slice(0, 2))}`)
    rmSync(dir, { recursive: true, force: true })
  }
  return percentile(times, 50)
}

const big = await tickProject(10_000, 100)
const small = await tickProject(100, 100)
const bigMs = await tickTime(big, 3)
const smallMs = await tickTime(small, 3)
report('rekey tick, 10,000 policies with 100 due (median ms)', bigMs, 'ms', smallMs, '100 policies, all 100 due', false)

server.close()
rmSync(base, { recursive: true, force: true })

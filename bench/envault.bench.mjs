// envault benchmarks (whole processes on the built bin, each against a baseline run here):
// 1. diff and sync --dry-run of two 100,000-key files vs a process that dotenv.parse's both files;
// 2. get / set / encrypt on a 10,000-key encrypted file, side by side with @dotenvx/dotenvx
//    (capped: a dotenvx run that exceeds the cap is reported as such), and vs the floor: a process
//    that reads, parses and rewrites the file;
// 3. envault serve GET requests per second and p99 vs a bare node:http server with the same JSON.
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { fmt, httpLoad, percentile, pinned, processTime, record, report, reportHttp } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const bin = join(root, 'dist', 'cli', 'envault.js')
const require = createRequire(join(root, 'package.json'))
const dir = mkdtempSync(join(tmpdir(), 'envault-bench-'))
const node = process.execPath
const MASTER = 'ab'.repeat(32)
const env = { ...process.env, ENVAULT_MASTER_KEY: MASTER, REKEY_ACTOR: 'bench', NO_COLOR: '1' }

try {
  // 1. Two 100,000-key files, 10% of values different, 1% of keys only on one side.
  let a = ''
  let b = ''
  for (let i = 0; i < 100_000; i++) {
    if (i % 100 !== 7) a += `KEY_${i}=value_${i}_${'x'.repeat(20)}\n`
    if (i % 100 !== 8) b += `KEY_${i}=${i % 10 === 0 ? 'changed' : 'value'}_${i}_${'x'.repeat(20)}\n`
  }
  writeFileSync(join(dir, '.env.dev'), a)
  writeFileSync(join(dir, '.env.prod'), b)
  writeFileSync(join(dir, '.envault.yml'), 'project: bench\nenvironments:\n  dev: .env.dev\n  prod: .env.prod\n  big: .env.big\n  serve: .env.serve\n')
  const dotenvMain = require.resolve('dotenv')
  const parseBoth = `const d=require(${JSON.stringify(dotenvMain)});const fs=require('fs');d.parse(fs.readFileSync('.env.dev'));d.parse(fs.readFileSync('.env.prod'))`
  const opts = { cwd: dir, env }
  const base = processTime(node, ['-e', parseBoth], opts, 5)
  report('diff dev prod (100,000 keys each, whole process)', processTime(node, [bin, 'diff', 'dev', 'prod'], opts, 5), 'ms', base, 'dotenv.parse of both files (whole process)', false)
  report('sync dev prod --dry-run (100,000 keys each)', processTime(node, [bin, 'sync', 'dev', 'prod', '--dry-run'], opts, 5), 'ms', base, 'dotenv.parse of both files (whole process)', false)

  // 2. A 10,000-key file, encrypted by each tool.
  let big = ''
  for (let i = 0; i < 10_000; i++) big += `SECRET_${i}=value-${i}-${'y'.repeat(24)}\n`
  writeFileSync(join(dir, 'plain.env'), big)
  const floorScript = `const fs=require('fs');const t=fs.readFileSync('.env.big','utf8');const m=new Map();for(const l of t.split('\\n')){const i=l.indexOf('=');if(i>0)m.set(l.slice(0,i),l.slice(i+1))}m.set('SECRET_5','new');fs.writeFileSync('.env.big.tmp',[...m].map(([k,v])=>k+'='+v).join('\\n'));fs.renameSync('.env.big.tmp','.env.big')`
  copyFileSync(join(dir, 'plain.env'), join(dir, '.env.big'))
  const floor = processTime(node, ['-e', floorScript], opts, 5)
  console.log(`floor (read, parse, rewrite 10,000 keys in one process): ${fmt(floor)} ms`)
  const oursEncrypt = (() => {
    const times = []
    for (let i = 0; i < 3; i++) {
      copyFileSync(join(dir, 'plain.env'), join(dir, '.env.big'))
      const t0 = performance.now()
      const r = spawnSync(node, [bin, 'encrypt', '--env', 'big'], opts)
      times.push(performance.now() - t0)
      if (r.status !== 0) throw new Error(`envault encrypt failed: ${r.stderr}`)
    }
    return percentile(times, 50)
  })()
  const oursGet = processTime(node, [bin, 'get', 'SECRET_5000', '--env', 'big'], opts, 5)
  const oursSet = processTime(node, [bin, 'set', 'SECRET_5000', 'new-value-for-bench', '--env', 'big'], opts, 5)

  const dotenvxBin = join(dirname(require.resolve('@dotenvx/dotenvx/package.json')), 'src', 'cli', 'dotenvx.js')
  const CAP = Number(process.env.ENVAULT_BENCH_DOTENVX_CAP_MS ?? 20_000)
  const dx = (args) => {
    const t0 = performance.now()
    const r = spawnSync(node, [dotenvxBin, ...args], { cwd: dir, env: { ...process.env, DOTENV_KEYS_FILE: undefined }, timeout: CAP, stdio: ['ignore', 'pipe', 'pipe'] })
    const ms = performance.now() - t0
    if (r.error?.code === 'ETIMEDOUT' || r.signal) return { ms, timedOut: true }
    if (r.status !== 0) return { ms, failed: String(r.stderr).split('\n')[0] }
    return { ms }
  }
  copyFileSync(join(dir, 'plain.env'), join(dir, 'dx.env'))
  const dxResults = {
    encrypt: dx(['encrypt', '-f', 'dx.env']),
    get: dx(['get', 'SECRET_5000', '-f', 'dx.env']),
    set: dx(['set', 'SECRET_5000', 'new-value-for-bench', '-f', 'dx.env']),
  }
  for (const [op, ours] of [['encrypt', oursEncrypt], ['get', oursGet], ['set', oursSet]]) {
    const d = dxResults[op]
    const tail = `| floor: ${fmt(floor)} ms | ratio to floor ${(floor / ours).toFixed(3)}`
    record({ name: `envault ${op} (10,000 encrypted keys, whole process) vs floor`, value: ours, unit: 'ms', baseline: floor, baselineName: 'read+parse+rewrite floor', ratio: floor / ours })
    if (d.timedOut) console.log(`envault ${op} (10,000 encrypted keys): ${fmt(ours)} ms | dotenvx ${op}: exceeded the ${CAP / 1000} s cap (> ${fmt(d.ms)} ms) ${tail}`)
    else if (d.failed) console.log(`envault ${op} (10,000 encrypted keys): ${fmt(ours)} ms | dotenvx ${op}: failed (${d.failed}) ${tail}`)
    else {
      report(`envault ${op} (10,000 encrypted keys, whole process)`, ours, 'ms', d.ms, `dotenvx ${op}`, false)
      console.log(`  ${tail.slice(2)}`)
    }
  }

  // 3. serve: GET /secrets/NAME, 50 keep-alive connections from autocannon in its own process
  // (pinned to core 1), against the server pinned to core 0; the baseline is a bare node:http
  // server answering the same JSON, measured the same way.
  let small = ''
  for (let i = 0; i < 100; i++) small += `API_KEY_${i}=sk_live_${'z'.repeat(32)}${i}\n`
  writeFileSync(join(dir, '.env.serve'), small)
  const bodyJson = JSON.stringify({ key: 'API_KEY_42', value: `sk_live_${'z'.repeat(32)}42` })
  const bareCode = `const b=${JSON.stringify(bodyJson)};require('http').createServer((q,s)=>{s.writeHead(200,{'content-type':'application/json; charset=utf-8','content-length':Buffer.byteLength(b)});s.end(b)}).listen(0,'127.0.0.1',function(){console.log(JSON.stringify({url:'http://127.0.0.1:'+this.address().port}))})`
  const startServer = (args, opts = {}) =>
    new Promise((resolve, reject) => {
      const [cmd, argv] = pinned(0, node, args)
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
        const m = /"url":"([^"]+)"/.exec(out)
        if (m) resolve({ child, url: m[1] })
      })
      child.on('exit', (c) => reject(new Error(`server exited ${c}`)))
    })
  const load = { connections: 50, seconds: 4 }
  const bare = await startServer(['-e', bareCode])
  const baseLoad = httpLoad({ ...load, url: `${bare.url}/secrets/API_KEY_42` })
  bare.child.kill('SIGTERM')
  const served = await startServer([bin, 'serve', '--env', 'serve', '--port', '0', '--api-key', 'bench-token', '--json'], { cwd: dir, env })
  const ours = httpLoad({ ...load, url: `${served.url}/secrets/API_KEY_42`, headers: { authorization: 'Bearer bench-token' } })
  served.child.kill('SIGTERM')
  reportHttp('envault serve GET /secrets/NAME, 50 connections (each read audited, group-committed)', ours, baseLoad)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// rekey serve benchmarks (issue 5): POST /v1/keys/verify and GET of a secret with N keys in
// PostgreSQL (REKEY_BENCH_KEYS, default 1,000,000), each as a ratio to a bare node:http server
// answering the same JSON, measured with the same client in the same run; SDK in-process
// verification with a warm cache against a bare sha256 + Map lookup; and memory.
// Needs PostgreSQL on 127.0.0.1:5432 (REKEY_TEST_DATABASE_URL to override).
import { spawn, spawnSync } from 'node:child_process'
import { hash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { httpLoad, pinned, report, reportHttp } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const REKEY = join(here, '..', 'dist', 'cli', 'rekey.js')
const URL_ = process.env.REKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const N = Number(process.env.REKEY_BENCH_KEYS ?? 1_000_000)
const SECONDS = Number(process.env.REKEY_BENCH_SECONDS ?? 4)
const CONCURRENCY = 50
const schema = `rk_bench_${randomBytes(4).toString('hex')}`
const MASTER = 'b'.repeat(64)
const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', REKEY_DATABASE_URL: URL_, REKEY_DATABASE_SCHEMA: schema, REKEY_MASTER_KEY: MASTER, REKEY_LOG_LEVEL: 'warn' }

const cli = (...args) => {
  const r = spawnSync(process.execPath, [REKEY, ...args], { env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`rekey ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Starts a child running `code` (or rekey serve) and resolves with its port once it listens. */
function startChild(args, match) {
  return new Promise((resolve, reject) => {
    // Servers run pinned to core 0; the load generator (httpLoad) runs on core 1.
    const [cmd, argv] = pinned(0, process.execPath, args)
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const on = (d) => {
      out += d
      const m = match.exec(out)
      if (m) resolve({ child, port: Number(m[1]) })
    }
    child.stdout.on('data', on)
    child.stderr.on('data', on)
    child.on('exit', (c) => reject(new Error(`child exited ${c}: ${out}`)))
  })
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY, noDelay: true })
function request(port, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let n = 0
      res.on('data', (d) => (n += d.length))
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const keyOf = (i) => `ak_bench${String(i).padStart(8, '0')}_xxxxxxxxxxxxxxxxxxxxxxxxxxxx`

async function run() {
  const pool = new pg.Pool({ connectionString: URL_, max: 2 })
  try {
    await pool.query('SELECT 1')
  } catch {
    console.log(`skipped: PostgreSQL is not reachable`)
    await pool.end()
    return
  }
  const children = []
  try {
    cli('db', 'migrate')
    const t0 = performance.now()
    const batch = 250_000
    for (let from = 0; from < N; from += batch) {
      const to = Math.min(N, from + batch) - 1
      await pool.query(
        `WITH s AS (SELECT i, lpad(i::text, 12, '0') AS id, encode(sha256(convert_to('ak_bench' || lpad(i::text, 8, '0') || '_xxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'UTF8')), 'hex') AS h FROM generate_series($1::int, $2::int) i),
              k AS (INSERT INTO ${schema}.api_keys (id, entry, rev)
                    SELECT id, jsonb_build_object('id', id, 'type', 'api_key', 'name', 'bench ' || i, 'service', 'svc' || (i % 50), 'prefix', 'ak', 'prefix_shown', left('ak_bench' || lpad(i::text, 8, '0') || '_xxxxxxxx', 20),
                      'version', 1, 'key_hash', h, 'previous_hash', null, 'created_at', '2026-01-01T00:00:00.000Z', 'rotated_at', null, 'expires_at', null, 'revoked', false, 'revoked_at', null, 'rate_limit', null,
                      'versions', jsonb_build_array(jsonb_build_object('version', 1, 'key_hash', h, 'created_at', '2026-01-01T00:00:00.000Z', 'grace_until', null, 'revoked_at', null, 'last_used_at', null, 'use_count', 0))),
                      nextval('${schema}.api_keys_rev') FROM s)
         INSERT INTO ${schema}.api_key_hashes (key_hash, id, version) SELECT h, id, 1 FROM s`,
        [from, to],
      )
    }
    await pool.query(`ANALYZE ${schema}.api_keys`)
    await pool.query(`ANALYZE ${schema}.api_key_hashes`)
    console.log(`setup: ${N.toLocaleString('en-US')} keys inserted into PostgreSQL in ${((performance.now() - t0) / 1000).toFixed(1)} s (generate_series + sha256 in SQL)`)

    const token = JSON.parse(cli('tokens', 'create', '--name', 'bench', '--scope', 'admin', '--json')).token
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    // Request logs off (warn): the measurement is of the request path, not of log volume.
    const serve = await startChild([REKEY, 'serve', '--port', '0', '--log-level', 'warn'], /listening on http:\/\/127\.0\.0\.1:(\d+)/)
    children.push(serve.child)
    const verifyBody = JSON.stringify({ valid: true, status: 'VALID', deprecated: false, id: '000000000001', version: 1, name: 'bench 1', service: 'svc1' })
    const bareCode = `const h=require('http');const b=${JSON.stringify(verifyBody)};const g=${JSON.stringify(JSON.stringify({ env: 'prod', name: 'DB_PASSWORD', value: 'x'.repeat(32), version: 1 }))};h.createServer((q,s)=>{let n=0;q.on('data',d=>n+=d.length);q.on('end',()=>{const x=q.method==='GET'?g:b;s.writeHead(200,{'content-type':'application/json; charset=utf-8','content-length':Buffer.byteLength(x)});s.end(x)})}).listen(0,'127.0.0.1',function(){console.log('port '+this.address().port)})`
    const bare = await startChild(['-e', bareCode], /port (\d+)/)
    children.push(bare.child)

    // The hot set: 1,000 distinct keys (a realistic working set; cache warm after the first pass).
    const HOT = 1000
    const bodiesDir = mkdtempSync(join(tmpdir(), 'rekey-bench-bodies-'))
    const bodiesFile = (name, list) => {
      const f = join(bodiesDir, name)
      writeFileSync(f, list.join('\n'))
      return f
    }
    const hotBodies = bodiesFile('hot', Array.from({ length: HOT }, (_, i) => JSON.stringify({ key: keyOf(Math.floor((i * N) / HOT)) })))
    const verify = (port, bodies) => httpLoad({ url: `http://127.0.0.1:${port}/v1/keys/verify`, method: 'POST', headers: auth, bodies, connections: CONCURRENCY, seconds: SECONDS })
    verify(serve.port, hotBodies) // warm-up (JIT, caches)
    const baseV = verify(bare.port, hotBodies)
    const hot = verify(serve.port, hotBodies)
    reportHttp(`POST /v1/keys/verify, ${N.toLocaleString('en-US')} keys in PostgreSQL, hot set of ${HOT}`, hot, baseV)
    // Random keys over the whole table: mostly cache misses, one indexed lookup each.
    const rnd = bodiesFile('random', Array.from({ length: 50_000 }, () => JSON.stringify({ key: keyOf(Math.floor(Math.random() * N)) })))
    const cold = verify(serve.port, rnd)
    reportHttp(`POST /v1/keys/verify, random keys over all ${N.toLocaleString('en-US')} (cache misses)`, cold, baseV)

    const put = await request(serve.port, 'PUT', '/v1/envs/prod/secrets/DB_PASSWORD', auth, JSON.stringify({ value: 'x'.repeat(32) }))
    if (put !== 200) throw new Error(`PUT secret answered ${put}`)
    const get = (port) => httpLoad({ url: `http://127.0.0.1:${port}/v1/envs/prod/secrets/DB_PASSWORD`, headers: { authorization: auth.authorization }, connections: CONCURRENCY, seconds: SECONDS })
    get(serve.port)
    const baseG = get(bare.port)
    const g = get(serve.port)
    reportHttp('GET /v1/envs/prod/secrets/DB_PASSWORD', g, baseG)
    rmSync(bodiesDir, { recursive: true, force: true })

    // Memory of the instance after serving the above (it holds only the keys it has seen).
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serve.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
    console.log(`memory: one rekey serve instance over ${N.toLocaleString('en-US')} keys in PostgreSQL: RSS ${rss.toFixed(0)} MB (it caches only keys presented to it, not the table)`)

    // SDK in-process verification with a warm cache vs a bare sha256 + Map lookup.
    const sdk = await import('../dist/sdk/index.js')
    const verifier = sdk.createKeyVerifier({ url: `http://127.0.0.1:${serve.port}`, token, cacheTtl: 3_600_000, reportEveryMs: 3_600_000 })
    const keys = Array.from({ length: HOT }, (_, i) => keyOf(Math.floor((i * N) / HOT)))
    for (const k of keys) await verifier.verify(k)
    // The baseline is the fastest obvious lookup: the one-shot crypto.hash and a Map.
    const map = new Map(keys.map((k) => [hash('sha256', k, 'base64'), { valid: true }]))
    const opsFor = async (fn) => {
      let n = 0
      const t = performance.now()
      while (performance.now() - t < 1500) {
        for (let j = 0; j < 1000; j++) await fn(keys[(n + j) % HOT])
        n += 1000
      }
      return (n * 1000) / (performance.now() - t)
    }
    await opsFor((k) => verifier.verify(k))
    const base = await opsFor(async (k) => map.get(hash('sha256', k, 'base64')))
    const sdkOps = await opsFor((k) => verifier.verify(k))
    report('SDK verifyApiKey in-process, warm cache', sdkOps, 'verifications/s', base, 'crypto.hash sha256 + Map lookup')
    await verifier.close()

    // Memory of the SDK's verification cache holding 1,000,000 keys (the real cache, filled directly).
    const M = 1_000_000
    globalThis.gc?.()
    const mem = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
    const h0 = mem()
    const cache = sdk.createVerifyCache(M)
    for (let i = 0; i < M; i++) {
      cache.set(cache.digest(keyOf(i)), { valid: true, status: 'VALID', id: i.toString(16).padStart(12, '0'), version: 1, deprecated: false, name: `bench ${i % 100}`, service: `svc${i % 50}` }, Date.now() + 3_600_000)
    }
    globalThis.gc?.()
    const bytes = mem() - h0
    console.log(`memory: SDK verification cache holding ${M.toLocaleString('en-US')} keys: ${(bytes / 1024 / 1024).toFixed(0)} MB (${(bytes / M).toFixed(0)} bytes per key; target <= 150)`)
    cache.clear()
  } finally {
    for (const c of children) c.kill('SIGTERM')
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
    await pool.end()
    agent.destroy()
  }
}

await run()

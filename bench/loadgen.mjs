// A load generator in its own process (the benchmarks pin it to a core apart from the server's
// with taskset), so rekey and its baseline are measured by the same client with the same settings.
// Usage: node loadgen.mjs '<json options>'  →  prints one JSON line:
//   { rps, p50, p99, errors, non2xx, clientCpu }  (clientCpu: the client's CPU time / wall time)
// Options: url, connections, seconds, method, headers, body, bodies (a file of one body per line,
// picked at random per request, e.g. random keys for verify).
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

const o = JSON.parse(process.argv[2])
const bodies = o.bodies ? readFileSync(o.bodies, 'utf8').split('\n').filter(Boolean) : undefined
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const r = await autocannon({
  url: o.url,
  connections: o.connections ?? 50,
  duration: o.seconds ?? 4,
  method: o.method ?? 'GET',
  headers: o.headers ?? {},
  ...(o.body !== undefined ? { body: o.body } : {}),
  ...(bodies ? { requests: [{ setupRequest: (req) => ({ ...req, body: bodies[Math.floor(Math.random() * bodies.length)] }) }] } : {}),
})
const wall = (performance.now() - t0) * 1000
const cpu = process.cpuUsage(cpu0)
console.log(JSON.stringify({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, clientCpu: (cpu.user + cpu.system) / wall }))

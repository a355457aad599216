// apiauth benchmarks (issue 2):
//  - in-process verify throughput with 100,000 keys in the store, against a bare sha256 + Map
//    lookup (one-shot crypto.hash) over the same keys, measured in the same run;
//  - whole-process time of `apiauth verify` and `apiauth rotate` with 10,000 keys in the store,
//    and of `apiauth --version`, each against `node -e 0`.
// Stores are built directly through the library (one bulk mutation), not by 100,000 CLI runs.
import { hash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openKeysService, systemClock, systemRandom } from '../dist/index.js'
import { opsPerSec, processTime, report } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const APIAUTH = join(here, '..', 'dist', 'cli', 'apiauth.js')
const MASTER = randomBytes(32).toString('hex')
// The baseline's hash is the fastest obvious one: the one-shot crypto.hash.
const sha = (s) => hash('sha256', s, 'hex')

/** A store of `n` API keys under a fresh key dir; returns the dir, the plaintext keys and one id. */
async function buildStore(n) {
  const keyDir = mkdtempSync(join(tmpdir(), 'rekey-bench-'))
  const env = { APIAUTH_MASTER_KEY: MASTER }
  const k = await openKeysService({ keyDir, env, clock: systemClock, random: systemRandom, actor: 'bench' })
  const { entry, key } = await k.service.generateApiKey({ name: 'first', service: 'bench' })
  const keys = [key]
  const now = new Date().toISOString()
  await k.store.repo.mutate((tx) => {
    for (let i = 1; i < n; i++) {
      const plain = `ak_${randomBytes(32).toString('base64url')}`
      keys.push(plain)
      const h = sha(plain)
      tx.put({
        ...entry,
        id: randomBytes(6).toString('hex'),
        name: `key ${i}`,
        service: `svc-${i % 50}`,
        prefix_shown: plain.slice(0, 20),
        key_hash: h,
        created_at: now,
        versions: [{ version: 1, key_hash: h, prefix_shown: plain.slice(0, 20), created_at: now, grace_until: null, revoked_at: null, last_used_at: null, use_count: 0 }],
      })
    }
  })
  await k.close()
  return { keyDir, env, keys, id: entry.id }
}

// 1. In-process verify, 100,000 keys.
{
  const { keyDir, env, keys } = await buildStore(100_000)
  const k = await openKeysService({ keyDir, env, clock: systemClock, random: systemRandom, actor: 'bench' })
  await k.service.verify(keys[0]) // load the store and build the index once
  const pick = (i) => keys[(i * 7919) % keys.length]
  const bare = new Map(keys.map((key, i) => [sha(key), { id: i }]))
  let sink = 0
  const base = await opsPerSec((i) => {
    if (bare.get(sha(pick(i)))) sink++
  }, 1500)
  const ours = await opsPerSec(async (i) => {
    if ((await k.service.verify(pick(i))).status === 'VALID') sink++
  }, 1500)
  await k.close()
  if (sink === 0) throw new Error('nothing verified')
  report('verify in-process (100,000 keys)', ours, 'ops/s', base, 'crypto.hash sha256 + Map', true)
  rmSync(keyDir, { recursive: true, force: true })
}

// 2. Whole process, 10,000 keys.
{
  const { keyDir, env, keys, id } = await buildStore(10_000)
  const opts = { env: { PATH: process.env.PATH, HOME: keyDir, ...env, APIAUTH_KEY_DIR: keyDir } }
  const nodeBase = processTime(process.execPath, ['-e', '0'], {}, 7)
  const verify = processTime(process.execPath, [APIAUTH, 'verify', keys[1234]], opts, 7)
  report('apiauth verify, whole process (10,000 keys)', verify, 'ms', nodeBase, 'node -e 0', false)
  const rotate = processTime(process.execPath, [APIAUTH, 'rotate', id, '--grace', '1h'], opts, 7)
  report('apiauth rotate, whole process (10,000 keys)', rotate, 'ms', nodeBase, 'node -e 0', false)
  const version = processTime(process.execPath, [APIAUTH, '--version'], {}, 9)
  report('apiauth --version', version, 'ms', nodeBase, 'node -e 0', false)
  rmSync(keyDir, { recursive: true, force: true })
}

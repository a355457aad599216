import { describe, expect, it } from 'vitest'
import { spawnBin } from '../helpers/cli.js'
import { serviceAvailable } from '../helpers/services.js'
import { api, cliToken, pgEnv, spawnServe } from './serve-helpers.js'

const CANARY = 'canary-Pz81-never-log-this-value'

describe.skipIf(!(await serviceAvailable('postgres')))('rekey serve secret canary (built bin, real logs)', () => {
  it('a planted value and key never reach the process logs, error bodies, metrics, the audit log or a table dump', async () => {
    const db = await pgEnv()
    const admin = await cliToken(db.env, 'admin')
    const tokenList = await spawnBin('rekey', ['tokens', 'list', '--json'], { env: db.env })
    expect(tokenList.stdout).not.toContain(admin)
    const s = await spawnServe({ ...db.env, ENVAULT_API_KEY: 'legacy-envault-key-1234567890' }, ['--log-level', 'debug', '--env', 'prod'])
    const seen: string[] = []
    const put = await api(s.url, 'PUT', '/v1/envs/prod/secrets/CANARY', admin, { value: CANARY })
    expect(put.status).toBe(200)
    const created = await api(s.url, 'POST', '/v1/keys', admin, { name: 'canary', service: 'c' })
    const key = created.json.key as string
    seen.push(JSON.stringify((await api(s.url, 'POST', '/v1/keys/verify', admin, { key })).json))
    seen.push(JSON.stringify((await api(s.url, 'POST', '/v1/keys/verify', 'rkt_bad', { key })).json))
    seen.push(JSON.stringify((await api(s.url, 'PUT', '/v1/envs/prod/secrets/bad name', admin, { value: CANARY })).json))
    seen.push(JSON.stringify((await api(s.url, 'PUT', '/v1/envs/prod/secrets/X', admin, { value: CANARY, other: CANARY })).json))
    const rotated = await api(s.url, 'POST', `/v1/keys/${(created.json.entry as { id: string }).id}/rotate`, admin, {})
    const key2 = rotated.json.key as string
    seen.push(JSON.stringify((await api(s.url, 'POST', '/v1/keys/verify', admin, { key: key2 })).json))
    expect((await api(s.url, 'GET', '/secrets/CANARY', 'legacy-envault-key-1234567890')).json.value).toBe(CANARY)
    seen.push(await fetch(`${s.url}/metrics`).then((r) => r.text()))
    seen.push(JSON.stringify((await api(s.url, 'GET', '/v1/audit', admin)).json))
    seen.push(await fetch(`${s.url}/v1/audit/export`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text()))
    expect(await s.stop()).toBe(0)
    const logs = s.logs()
    expect(logs).toContain('"route":"PUT /v1/envs/{env}/secrets/{name}"')
    const dump = []
    for (const t of ['api_keys', 'api_key_hashes', 'secret_versions', 'audit_events', 'api_tokens', 'data_keys', 'signing_keys']) {
      dump.push(JSON.stringify((await db.pool.query(`SELECT * FROM ${db.schema}.${t}`)).rows))
    }
    const everything = [...seen, logs, ...dump].join('\n')
    for (const secret of [CANARY, key, key2, admin, 'legacy-envault-key-1234567890']) expect(everything).not.toContain(secret)
  })
})

import { describe, expect, it } from 'vitest'
import { envBackend, parseEnvaultConfig, withEnvBackend } from './envault-config.js'

const P = '/p/.envault.yml'
const problems = (text: string): string => {
  try {
    parseEnvaultConfig(text, P)
  } catch (e) {
    expect(e).toMatchObject({ code: 'CONFIG_INVALID' })
    return (e as Error).message
  }
  throw new Error('expected a config error')
}

describe('.envault.yml: environments in stores', () => {
  it('accepts store environments in map and list form, with env: naming the place inside PostgreSQL', () => {
    const map = parseEnvaultConfig('project: p\nenvironments:\n  dev: .env.dev\n  prod: {store: pg}\n  ci: {store: pg, env: ci-main}\nstores:\n  pg: {type: postgres}\n', P)
    expect(map.environments).toEqual([
      { name: 'dev', envFile: '.env.dev', path: '/p/.env.dev' },
      { name: 'prod', envFile: 'store:pg', path: '', store: { name: 'pg', env: 'prod' } },
      { name: 'ci', envFile: 'store:pg/ci-main', path: '', store: { name: 'pg', env: 'ci-main' } },
    ])
    const list = parseEnvaultConfig('project: p\nenvironments:\n  - {name: dev, env_file: .env.dev}\n  - {name: prod, store: loc}\nstores:\n  loc: {type: local-file}\n', P)
    expect(list.environments[1]).toEqual({ name: 'prod', envFile: 'store:loc', path: '', store: { name: 'loc', env: 'prod' } })
    expect(map.stores.find((s) => s.name === 'pg')?.type).toBe('postgres')
  })

  it('names an unknown store, with its line, and lists the configured ones', () => {
    const msg = problems('project: p\nenvironments:\n  dev: .env.dev\n  prod: {store: pgg}\nstores:\n  pg: {type: postgres}\n')
    expect(msg).toMatch(/line 4: environments\.prod\.store: unknown store "pgg" \(configured stores: pg\)/)
    expect(problems('project: p\nenvironments:\n  - {name: prod, store: nope}\n')).toMatch(/line 3: .*unknown store "nope" \(no stores: are configured\)/)
  })

  it('refuses a file and a store at once, env: without a store, and two environments in one place', () => {
    expect(problems('project: p\nenvironments:\n  prod: {store: pg, env_file: .env.prod}\nstores:\n  pg: {type: postgres}\n')).toMatch(/line 3: environments\.prod: .*either env_file or store/)
    expect(problems('project: p\nenvironments:\n  prod: {env_file: .env.prod, env: x}\n')).toMatch(/"env" applies to a store environment only/)
    expect(problems('project: p\nenvironments:\n  a: {store: pg, env: x}\n  b: {store: pg, env: x}\nstores:\n  pg: {type: postgres}\n')).toMatch(/environments\.b: uses the same place in store pg as a/)
    // A local-file store is one map: it can hold one environment.
    expect(problems('project: p\nenvironments:\n  a: {store: l}\n  b: {store: l}\nstores:\n  l: {type: local-file}\n')).toMatch(/environments\.b: uses the same place in store l as a/)
  })

  it('keeps files as files unless the backend is chosen explicitly (REKEY_DATABASE_URL alone moves nothing)', () => {
    const c = parseEnvaultConfig('project: p\nenvironments:\n  dev: .env.dev\n  prod: {store: loc}\nstores:\n  loc: {type: local-file}\n', P)
    expect(envBackend(undefined, { REKEY_DATABASE_URL: 'postgres://x@h/db' })).toBe('file')
    expect(withEnvBackend(c, envBackend(undefined, { REKEY_DATABASE_URL: 'postgres://x@h/db' }))).toBe(c)
    expect(envBackend(undefined, { REKEY_ENV_BACKEND: 'postgres' })).toBe('postgres')
    expect(envBackend('file', { REKEY_ENV_BACKEND: 'postgres' })).toBe('file')
    expect(() => envBackend('mysql', {})).toThrow(/invalid --backend "mysql": use file or postgres/)
    expect(() => envBackend(undefined, { REKEY_ENV_BACKEND: 'x' })).toThrow(/invalid REKEY_ENV_BACKEND "x"/)
    const pg = withEnvBackend(c, 'postgres')
    expect(pg.environments).toEqual([
      { name: 'dev', envFile: 'store:postgres', path: '', store: { name: 'postgres', env: 'dev' } },
      { name: 'prod', envFile: 'store:loc', path: '', store: { name: 'loc', env: 'prod' } },
    ])
    expect(pg.stores.map((s) => [s.name, s.type])).toEqual([['loc', 'local-file'], ['postgres', 'postgres']])
    const clash = parseEnvaultConfig('project: p\nenvironments:\n  dev: .env.dev\nstores:\n  postgres: {type: local-file}\n', P)
    expect(() => withEnvBackend(clash, 'postgres')).toThrow(/needs the store name "postgres", but .envault.yml defines it as a local-file store/)
  })
})

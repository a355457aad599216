import { AppError } from '../../core/errors.js'
import { checkSchemaName, connect, lockId, pgError, schemaOf, type Pool } from './db.js'

/**
 * Versioned migrations. Each one runs once, in order, inside a transaction, recorded in
 * `rekey_migrations`. Several instances starting together are serialised by an advisory lock, so
 * exactly one applies each migration. Never edit a released migration: add the next one.
 */
export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE data_keys (
  id          serial PRIMARY KEY,
  wrapped     bytea NOT NULL,          -- the data key sealed by the master key (AES-256-GCM)
  kdf         jsonb NOT NULL,          -- how the master key material becomes the wrapping key
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz
);

CREATE SEQUENCE api_keys_rev;
CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  entry       jsonb NOT NULL,          -- KeyEntry metadata and hashes only; never a key value
  rev         bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_rev_idx ON api_keys (rev);
CREATE TABLE api_key_hashes (
  key_hash    text PRIMARY KEY,        -- sha256 hex of one version of a key
  id          text NOT NULL,
  version     integer NOT NULL
);
CREATE INDEX api_key_hashes_id_idx ON api_key_hashes (id);
CREATE TABLE api_key_usage (
  id          text NOT NULL,
  version     integer NOT NULL,
  last_used_at timestamptz NOT NULL,
  use_count   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (id, version)
);
CREATE TABLE signing_keys (
  key_id      text PRIMARY KEY,
  data_key_id integer NOT NULL REFERENCES data_keys(id),
  enc         bytea NOT NULL
);

CREATE TABLE secret_versions (
  env         text NOT NULL,
  name        text NOT NULL,
  version     integer NOT NULL,
  enc         bytea,                   -- NULL marks a deletion
  data_key_id integer REFERENCES data_keys(id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (env, name, version)
);

CREATE TABLE audit_events (
  seq         bigint PRIMARY KEY,
  id          text NOT NULL UNIQUE,
  ts          timestamptz NOT NULL,
  action      text NOT NULL,
  target      text NOT NULL,
  env         text,
  event       jsonb NOT NULL,
  hash        text NOT NULL
);
CREATE INDEX audit_events_ts_idx ON audit_events (ts);

CREATE TABLE api_tokens (
  id          text PRIMARY KEY,        -- tok_<hex>, the public half of the token
  name        text NOT NULL,
  token_hash  text NOT NULL,           -- sha256 hex of the whole token
  scopes      text[] NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  last_used_at timestamptz,
  revoked_at  timestamptz
);

CREATE TABLE rotation_runs (
  id          text PRIMARY KEY,
  secret      text NOT NULL,
  state       text NOT NULL,
  doc         jsonb NOT NULL,
  owner       text,
  heartbeat_at timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rotation_runs_secret_idx ON rotation_runs (secret);

CREATE TABLE job_runs (
  job         text PRIMARY KEY,        -- a due job's identity, e.g. "rotate:STRIPE_API_KEY:2026-06-01"
  instance    text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome     text
);
`,
  },
  {
    version: 2,
    name: 'rotation journal: per-secret state, due-index, secret locks',
    sql: `
CREATE TABLE rotation_states (
  secret      text PRIMARY KEY,
  doc         jsonb NOT NULL
);
CREATE TABLE rotation_due (
  secret      text PRIMARY KEY,
  at          bigint,                  -- epoch ms; NULL: never
  fp          text NOT NULL,
  seen        text NOT NULL
);
CREATE INDEX rotation_due_at_idx ON rotation_due (at);
CREATE TABLE rotation_locks (
  secret      text PRIMARY KEY,
  run_id      text NOT NULL,
  instance    text NOT NULL,
  taken_at    timestamptz NOT NULL DEFAULT now()
);
`,
  },
]

export interface MigrateResult {
  applied: { version: number; name: string }[]
  current: number
}

/** Applies every pending migration; safe to call from several processes at once. */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  const schema = checkSchemaName(schemaOf(pool))
  const c = await connect(pool)
  const applied: MigrateResult['applied'] = []
  try {
    await c.query('SELECT pg_advisory_lock($1)', [lockId(schema, 'migrations')])
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await c.query(`CREATE TABLE IF NOT EXISTS ${schema}.rekey_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
      const done = new Set((await c.query<{ version: number }>(`SELECT version FROM ${schema}.rekey_migrations`)).rows.map((r) => r.version))
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue
        await c.query('BEGIN')
        try {
          await c.query(`SET LOCAL search_path = ${schema}`)
          await c.query(m.sql)
          await c.query(`INSERT INTO ${schema}.rekey_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
          await c.query('COMMIT')
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined)
          throw new AppError('ADAPTER_FAILED', `migration ${m.version} (${m.name}) failed; nothing of it was applied`, { cause: e })
        }
        applied.push({ version: m.version, name: m.name })
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [lockId(schema, 'migrations')]).catch(() => undefined)
    }
  } catch (e) {
    throw pgError('migrate', e)
  } finally {
    c.release()
  }
  return { applied, current: Math.max(0, ...migrations.map((m) => m.version)) }
}

/** The latest applied migration, or 0 for an empty database; used by /readyz. */
export async function currentVersion(pool: Pool): Promise<number> {
  const schema = schemaOf(pool)
  try {
    const r = await pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${schema}.rekey_migrations`)
    return r.rows[0]?.v ?? 0
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return 0
    throw pgError('read migrations', e)
  }
}

import type { KeyEntry, KeyUsage } from '../../core/keys/key-entry.js'
import type { KeyRepository, KeyTx, MutateOptions, SigningKeyStore } from '../../core/keys/ports.js'
import type { Random } from '../../core/ports.js'
import { AppError } from '../../core/errors.js'
import { assertWellFormed, onlyIds } from '../../core/keys/key-index.js'
import type { Keyring } from './keyring.js'
import { inTx, lockId, notifyChange, pgError, schemaOf, type Pool } from './db.js'

interface UsageRow {
  id: string
  version: number
  last_used_at: Date
  use_count: string
}

/** Usage lives in its own table (cheap upserts); entries are stored without it. */
function stripUsage(e: KeyEntry): KeyEntry {
  return { ...e, versions: e.versions.map((v) => ({ ...v, last_used_at: null, use_count: 0 })) }
}

function mergeUsage(e: KeyEntry, usage: readonly UsageRow[]): KeyEntry {
  if (usage.length === 0) return e
  return {
    ...e,
    versions: e.versions.map((v) => {
      const u = usage.find((x) => x.id === e.id && x.version === v.version)
      return u ? { ...v, last_used_at: u.last_used_at.toISOString(), use_count: Number(u.use_count) } : v
    }),
  }
}

export interface PgKeyRepository extends KeyRepository {
  /** Adds many usage records at once (the server buffers verify's usage and flushes it). */
  recordUseBatch(u: readonly (KeyUsage & { count: number })[]): Promise<void>
}

/**
 * apiauth keys in PostgreSQL. `findByHash` is one indexed lookup. `mutate` runs under a
 * transaction-scoped advisory lock (the same exclusion the file store gets from its lock file) and
 * queues a NOTIFY so every instance's verification cache drops the changed keys on commit.
 *
 * The transaction view (`KeyTx`) is synchronous. A mutation that declares its ids (every use case
 * does) reads only those rows under the lock: no whole-table read, whatever the table's size.
 * Without ids (db import, tests), mutate needs every entry at hand: the repository then keeps a
 * mirror and, under the lock, reads only rows whose revision is newer than the mirror's (the
 * first such mutation in a process reads the whole table).
 */
export function createPgKeyRepository(pool: Pool, o: { flushMs?: number } = {}): PgKeyRepository {
  const schema = schemaOf(pool)
  const mirror = new Map<string, KeyEntry>()
  let mirrorRev = 0n
  // verify's usage records are buffered and written in one statement per interval, so the hot
  // path never waits on a database write.
  const pending = new Map<string, KeyUsage & { count: number }>()
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()

  // Concurrent verify misses are coalesced: the hashes asked for while the lookups in flight
  // are at their limit (or in the same turn of the event loop) go out together as one prepared
  // `= ANY($1)` query, so a burst of cache misses costs a few round trips, not one each.
  type Waiter = { resolve(v: { entry: KeyEntry; version: number } | undefined): void; reject(e: unknown): void }
  let queued = new Map<string, Waiter[]>()
  let inFlight = 0
  const MAX_IN_FLIGHT = Math.max(1, Math.min(4, (pool.options.max ?? 10) - 1))
  let scheduled = false
  const sendBatch = () => {
    scheduled = false
    while (inFlight < MAX_IN_FLIGHT && queued.size > 0) {
      const batch = queued
      queued = new Map()
      inFlight++
      pool
        .query<{ key_hash: string; entry: KeyEntry; version: number }>({
          name: `${schema}.find_by_hashes`,
          text: 'SELECT h.key_hash, k.entry, h.version FROM api_key_hashes h JOIN api_keys k ON k.id = h.id WHERE h.key_hash = ANY($1::text[])',
          values: [[...batch.keys()]],
        })
        .then(
          (r) => {
            const found = new Map(r.rows.map((row) => [row.key_hash, { entry: row.entry, version: row.version }]))
            for (const [h, ws] of batch) for (const w of ws) w.resolve(found.get(h))
          },
          (e: unknown) => {
            const err = pgError('find key', e)
            for (const ws of batch.values()) for (const w of ws) w.reject(err)
          },
        )
        .finally(() => {
          inFlight--
          if (queued.size > 0) sendBatch()
        })
    }
  }

  const repo: PgKeyRepository = {
    async get(id) {
      try {
        const r = await pool.query<{ entry: KeyEntry }>('SELECT entry FROM api_keys WHERE id = $1', [id])
        const e = r.rows[0]?.entry
        if (!e) return undefined
        const u = await pool.query<UsageRow>('SELECT id, version, last_used_at, use_count FROM api_key_usage WHERE id = $1', [id])
        return mergeUsage(e, u.rows)
      } catch (e) {
        throw pgError('read key', e)
      }
    },
    findByHash(keyHash) {
      // The hot path: indexed lookups, coalesced (above). Usage fields may lag (the port allows it).
      return new Promise((resolve, reject) => {
        const ws = queued.get(keyHash)
        if (ws) ws.push({ resolve, reject })
        else queued.set(keyHash, [{ resolve, reject }])
        if (!scheduled && inFlight < MAX_IN_FLIGHT) {
          scheduled = true
          setImmediate(sendBatch)
        }
      })
    },
    async list() {
      try {
        const r = await pool.query<{ entry: KeyEntry }>("SELECT entry FROM api_keys ORDER BY entry->>'created_at', id")
        const u = await pool.query<UsageRow>('SELECT id, version, last_used_at, use_count FROM api_key_usage')
        const byId = new Map<string, UsageRow[]>()
        for (const row of u.rows) byId.set(row.id, [...(byId.get(row.id) ?? []), row])
        return r.rows.map((x) => mergeUsage(x.entry, byId.get(x.entry.id) ?? []))
      } catch (e) {
        throw pgError('list keys', e)
      }
    },
    async mutate<T>(fn: (tx: KeyTx) => Promise<T> | T, beforeCommit?: (result: T) => Promise<void>, mo?: MutateOptions): Promise<T> {
      const puts = new Map<string, KeyEntry>()
      const ids = mo?.ids ? [...new Set(mo.ids)] : undefined
      let newRev = mirrorRev
      let committed = new Map<string, KeyEntry>()
      const result = await inTx(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(schema, 'api_keys')])
        const seen = new Map<string, KeyEntry>()
        if (ids) {
          // Only the declared rows; the mirror is neither read nor advanced.
          const rows = await c.query<{ id: string; entry: KeyEntry }>('SELECT id, entry FROM api_keys WHERE id = ANY($1)', [ids])
          for (const row of rows.rows) seen.set(row.id, row.entry)
        } else {
          const fresh = await c.query<{ id: string; entry: KeyEntry; rev: string }>('SELECT id, entry, rev FROM api_keys WHERE rev > $1', [mirrorRev.toString()])
          for (const row of fresh.rows) {
            seen.set(row.id, row.entry)
            if (BigInt(row.rev) > newRev) newRev = BigInt(row.rev)
          }
        }
        const view = (id: string) => puts.get(id) ?? seen.get(id) ?? (ids ? undefined : mirror.get(id))
        const full: KeyTx = {
          get: (id) => {
            const e = view(id)
            return e ? structuredClone(e) : undefined
          },
          has: (id) => view(id) !== undefined,
          all: () => {
            const ids = new Set([...mirror.keys(), ...seen.keys(), ...puts.keys()])
            return [...ids].map((id) => structuredClone(view(id)!))
          },
          put: (entry) => {
            puts.set(entry.id, structuredClone(entry))
          },
        }
        const r = await fn(ids ? onlyIds(full, ids) : full)
        // Checks before the audit event is written: a refused change leaves no trace.
        const owner = new Map<string, string>()
        for (const e of puts.values()) {
          assertWellFormed(e)
          for (const v of e.versions) {
            const o = owner.get(v.key_hash)
            if (o !== undefined && o !== e.id) throw new AppError('ALREADY_EXISTS', `a version of key ${o} already has this hash`)
            owner.set(v.key_hash, e.id)
          }
        }
        if (owner.size > 0) {
          const clash = await c.query<{ id: string }>('SELECT id FROM api_key_hashes WHERE key_hash = ANY($1) AND NOT (id = ANY($2)) LIMIT 1', [[...owner.keys()], [...puts.keys()]])
          if (clash.rows[0]) throw new AppError('ALREADY_EXISTS', `a version of key ${clash.rows[0].id} already has this hash`)
        }
        if (beforeCommit) await beforeCommit(r)
        for (const e of puts.values()) {
          const stored = stripUsage(e)
          const rev = await c.query<{ rev: string }>(
            `INSERT INTO api_keys (id, entry, rev) VALUES ($1, $2, nextval('api_keys_rev'))
             ON CONFLICT (id) DO UPDATE SET entry = EXCLUDED.entry, rev = EXCLUDED.rev, updated_at = now() RETURNING rev`,
            [e.id, JSON.stringify(stored)],
          )
          const rv = BigInt(rev.rows[0]!.rev)
          if (!ids && rv > newRev) newRev = rv
          await c.query('DELETE FROM api_key_hashes WHERE id = $1', [e.id])
          for (const v of e.versions) {
            await c.query('INSERT INTO api_key_hashes (key_hash, id, version) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO UPDATE SET id = EXCLUDED.id, version = EXCLUDED.version', [v.key_hash, e.id, v.version])
          }
          seen.set(e.id, stored)
          await notifyChange(c, schema, { kind: 'key', id: e.id })
        }
        committed = seen
        return r
      }).catch((e: unknown) => {
        throw pgError('write keys', e)
      })
      // The mirror only advances when the transaction committed. A mutation with ids read only some
      // rows, so it leaves the mirror alone (its writes bump rev: the next full read picks them up).
      if (!ids) {
        for (const [id, e] of committed) mirror.set(id, e)
        mirrorRev = newRev
      }
      return result
    },
    async recordUse(u) {
      const k = `${u.id}:${u.version}`
      const p = pending.get(k)
      if (p) {
        p.count++
        if (u.at > p.at) p.at = u.at
      } else pending.set(k, { ...u, count: 1 })
      timer ??= setTimeout(() => {
        timer = undefined
        repo.flush().catch(() => undefined)
      }, o.flushMs ?? 1000)
      timer.unref()
    },
    async flush() {
      if (timer) clearTimeout(timer)
      timer = undefined
      const batch = [...pending.values()]
      pending.clear()
      const run = flushing.then(() => repo.recordUseBatch(batch))
      flushing = run.catch(() => undefined)
      await run
    },
    async close() {
      await repo.flush()
    },
    async recordUseBatch(list) {
      if (list.length === 0) return
      try {
        await pool.query(
          `INSERT INTO api_key_usage (id, version, last_used_at, use_count)
           SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[])
           ON CONFLICT (id, version) DO UPDATE SET
             last_used_at = GREATEST(api_key_usage.last_used_at, EXCLUDED.last_used_at),
             use_count = api_key_usage.use_count + EXCLUDED.use_count`,
          [list.map((u) => u.id), list.map((u) => u.version), list.map((u) => u.at), list.map((u) => u.count)],
        )
      } catch (e) {
        throw pgError('record key use', e)
      }
    },
  }
  return repo
}

/** JWT signing secrets, sealed with the data key (a dump shows only ciphertext). */
export function createPgSigningKeyStore(pool: Pool, keyring: Keyring, random: Random): SigningKeyStore & { put(keyId: string, secret: Uint8Array): Promise<void> } {
  const aad = (id: string) => `rekey-pg|signing-key|${id}`
  const get = async (keyId: string): Promise<Uint8Array | undefined> => {
    const r = await pool.query<{ data_key_id: number; enc: Buffer }>('SELECT data_key_id, enc FROM signing_keys WHERE key_id = $1', [keyId]).catch((e: unknown) => {
      throw pgError('read signing key', e)
    })
    const row = r.rows[0]
    if (!row) return undefined
    return Buffer.from(keyring.open(row.data_key_id, row.enc, aad(keyId), `signing key of ${keyId}`), 'base64')
  }
  return {
    get,
    /** Stores a given secret (import from the file backend); keeps an existing one. */
    async put(keyId, secret) {
      const s = keyring.seal(Buffer.from(secret).toString('base64'), aad(keyId))
      await pool.query('INSERT INTO signing_keys (key_id, data_key_id, enc) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING', [keyId, s.dataKeyId, s.enc]).catch((e: unknown) => {
        throw pgError('write signing key', e)
      })
    },
    async getOrCreate(keyId) {
      const have = await get(keyId)
      if (have) return have
      const secret = random.bytes(32)
      const s = keyring.seal(secret.toString('base64'), aad(keyId))
      await pool
        .query('INSERT INTO signing_keys (key_id, data_key_id, enc) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING', [keyId, s.dataKeyId, s.enc])
        .catch((e: unknown) => {
          throw pgError('write signing key', e)
        })
      return (await get(keyId))!
    },
  }
}

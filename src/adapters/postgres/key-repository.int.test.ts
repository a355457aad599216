import { describe, expect, it, onTestFinished } from 'vitest'
import { PG_URL, serviceAvailable } from '../../../test/helpers/services.js'
import { sampleEntry, withNewVersion } from '../../core/keys/key-repository.contract.js'
import { createPgKeyRepository } from './key-repository.js'
import type { Pool } from './db.js'
import { freshSchema } from './test-schema.js'

/** The pool, with every row any query returns recorded (what the repository read). */
function recording(pool: Pool): { pool: Pool; rows: unknown[] } {
  const rows: unknown[] = []
  const wrapQuery =
    <Q extends (...a: never[]) => Promise<unknown>>(q: Q, self: unknown) =>
    async (...a: Parameters<Q>) => {
      const r = (await q.apply(self, a)) as { rows?: unknown[] }
      rows.push(...(r.rows ?? []))
      return r
    }
  const wrapped = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query') return wrapQuery(target.query.bind(target) as never, target)
      if (prop === 'connect') {
        return async () => {
          const c = await target.connect()
          return new Proxy(c, { get: (t, p) => (p === 'query' ? wrapQuery(t.query.bind(t) as never, t) : Reflect.get(t, p, t) as unknown) })
        }
      }
      return Reflect.get(target, prop, receiver) as unknown
    },
  })
  return { pool: wrapped, rows }
}

describe.skipIf(!(await serviceAvailable('postgres')))('PostgreSQL key repository: mutations with ids', () => {
  it('reads only the declared rows: other rows, even unparseable entries, are never read', async () => {
    const s = await freshSchema(PG_URL)
    onTestFinished(() => s.drop())
    const a = sampleEntry()
    await createPgKeyRepository(s.pool).mutate((tx) => tx.put(a))
    // Rows put straight into the table: a marker whose entry is not a key at all, and others.
    await s.pool.query(`INSERT INTO api_keys (id, entry, rev) VALUES ('ffffffffffff', '{"marker":"never-read"}', nextval('api_keys_rev'))`)
    await s.pool.query(
      `INSERT INTO api_keys (id, entry, rev) SELECT 'x' || lpad(g::text, 11, '0'), jsonb_build_object('marker', 'never-read'), nextval('api_keys_rev') FROM generate_series(1, 50) g`,
    )
    const rec = recording(s.pool)
    const repo = createPgKeyRepository(rec.pool)
    const rotated = withNewVersion(a, 2, '2026-01-03T00:00:00.000Z')
    await repo.mutate(
      (tx) => {
        expect(tx.get(a.id)).toEqual(a)
        tx.put(rotated)
      },
      undefined,
      { ids: [a.id] },
    )
    expect(JSON.stringify(rec.rows)).not.toContain('never-read')
    expect(await repo.findByHash(rotated.key_hash)).toMatchObject({ version: 2, entry: { id: a.id } })
    const marker = await s.pool.query<{ entry: unknown }>(`SELECT entry FROM api_keys WHERE id = 'ffffffffffff'`)
    expect(marker.rows[0]!.entry).toEqual({ marker: 'never-read' })
    // The recording does catch a whole-table read: a mutation without ids loads every row.
    await repo.mutate((tx) => tx.has(a.id))
    expect(JSON.stringify(rec.rows)).toContain('never-read')
  })

  it('a full mutation after mutations with ids sees their writes (the mirror catches up)', async () => {
    const s = await freshSchema(PG_URL)
    onTestFinished(() => s.drop())
    const repo = createPgKeyRepository(s.pool)
    const a = sampleEntry()
    const b = sampleEntry()
    await repo.mutate((tx) => tx.put(a))
    expect(await repo.mutate((tx) => tx.all().length)).toBe(1)
    await repo.mutate((tx) => tx.put({ ...tx.get(a.id)!, name: 'renamed' }), undefined, { ids: [a.id] })
    await repo.mutate((tx) => tx.put(b), undefined, { ids: [b.id] })
    const all = await repo.mutate((tx) => tx.all().map((e) => `${e.id}:${e.name}`).sort())
    expect(all).toEqual([`${a.id}:renamed`, `${b.id}:Sample`].sort())
  })
})

describe.skipIf(!(await serviceAvailable('postgres')))('PostgreSQL key repository: coalesced lookups', () => {
  it('answers a burst of lookups (hits, misses, repeats) with a few = ANY queries, each caller its own answer', async () => {
    const s = await freshSchema(PG_URL)
    onTestFinished(() => s.drop())
    const entries = Array.from({ length: 30 }, () => sampleEntry())
    await createPgKeyRepository(s.pool).mutate((tx) => entries.forEach((e) => tx.put(e)))
    let queries = 0
    const counting = new Proxy(s.pool, {
      get(target, prop, receiver) {
        if (prop === 'query') return (...a: unknown[]) => (queries++, (target.query as (...x: unknown[]) => Promise<unknown>).apply(target, a))
        return Reflect.get(target, prop, receiver) as unknown
      },
    })
    const repo = createPgKeyRepository(counting)
    const asks = [...entries.map((e) => e.key_hash), ...entries.slice(0, 5).map((e) => e.key_hash), 'f'.repeat(64)]
    const got = await Promise.all(asks.map((h) => repo.findByHash(h)))
    expect(got.slice(0, 30).map((g) => g?.entry.id)).toEqual(entries.map((e) => e.id))
    expect(got.slice(30, 35).map((g) => g?.entry.id)).toEqual(entries.slice(0, 5).map((e) => e.id))
    expect(got[35]).toBeUndefined()
    expect(queries).toBeLessThanOrEqual(4)
  })
})

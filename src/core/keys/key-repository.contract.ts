import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../crypto/hash.js'
import type { KeyEntry } from './key-entry.js'
import type { KeyRepository, KeyTx } from './ports.js'

let counter = 0
/** A well-formed entry with one version; `hashSeed` makes distinct hashes. */
export function sampleEntry(over: Partial<KeyEntry> = {}, hashSeed = `k${counter++}`): KeyEntry {
  const hash = sha256Hex(hashSeed)
  const id = over.id ?? sha256Hex(`id:${hashSeed}`).slice(0, 12)
  return {
    id,
    type: 'api_key',
    name: 'Sample',
    service: 'svc',
    prefix: 'ak',
    prefix_shown: 'ak_sample_prefix_xx',
    version: 1,
    key_hash: hash,
    previous_hash: null,
    created_at: '2026-01-01T00:00:00.000Z',
    rotated_at: null,
    expires_at: null,
    revoked: false,
    revoked_at: null,
    rate_limit: null,
    versions: [{ version: 1, key_hash: hash, created_at: '2026-01-01T00:00:00.000Z', grace_until: null, revoked_at: null, last_used_at: null, use_count: 0 }],
    ...over,
  }
}

/** Adds version `n` with a fresh hash and makes it current (what a rotation does). */
export function withNewVersion(e: KeyEntry, n: number, graceUntil: string): KeyEntry {
  const hash = sha256Hex(`${e.id}:v${n}:${counter++}`)
  return {
    ...e,
    version: n,
    key_hash: hash,
    previous_hash: e.key_hash,
    rotated_at: '2026-01-02T00:00:00.000Z',
    versions: [
      ...e.versions.map((v) => (v.version === e.version ? { ...v, grace_until: graceUntil } : v)),
      { version: n, key_hash: hash, created_at: '2026-01-02T00:00:00.000Z', grace_until: null, revoked_at: null, last_used_at: null, use_count: 0 },
    ],
  }
}

/**
 * The KeyRepository contract: every implementation (memory, encrypted file, PostgreSQL) must
 * pass it. `factory` returns a fresh, empty repository for each test.
 *
 * @example
 * keyRepositoryContract('memory', () => createMemoryKeyRepository())
 */
export function keyRepositoryContract(name: string, factory: () => Promise<KeyRepository> | KeyRepository): void {
  describe(`KeyRepository contract: ${name}`, () => {
    it('stores entries and returns copies', async () => {
      const repo = await factory()
      const e = sampleEntry({ name: 'Name [/red] \u001b[31m' })
      await repo.mutate((tx) => tx.put(e))
      const got = await repo.get(e.id)
      expect(got).toEqual(e)
      got!.name = 'edited'
      got!.versions[0]!.use_count = 99
      expect((await repo.get(e.id))!.name).toBe('Name [/red] \u001b[31m')
      expect((await repo.get(e.id))!.versions[0]!.use_count).toBe(0)
      expect(await repo.get('000000000000')).toBeUndefined()
      expect((await repo.list()).map((x) => x.id)).toEqual([e.id])
    })

    it('finds every version by hash, and nothing for an unknown hash', async () => {
      const repo = await factory()
      const e = sampleEntry()
      await repo.mutate((tx) => tx.put(e))
      const e2 = withNewVersion(e, 2, '2026-01-03T00:00:00.000Z')
      await repo.mutate((tx) => tx.put(e2))
      expect(await repo.findByHash(e2.key_hash)).toMatchObject({ version: 2, entry: { id: e.id, version: 2 } })
      expect(await repo.findByHash(e.key_hash)).toMatchObject({ version: 1, entry: { id: e.id, version: 2 } })
      expect(await repo.findByHash(sha256Hex('nope'))).toBeUndefined()
    })

    it('writes nothing when fn or beforeCommit throws, and passes the result to beforeCommit', async () => {
      const repo = await factory()
      const a = sampleEntry()
      await expect(
        repo.mutate(
          (tx) => {
            tx.put(a)
            return 'r'
          },
          async (r) => {
            expect(r).toBe('r')
            throw new Error('audit down')
          },
        ),
      ).rejects.toThrow('audit down')
      expect(await repo.get(a.id)).toBeUndefined()
      expect(await repo.findByHash(a.key_hash)).toBeUndefined()
      await expect(
        repo.mutate((tx) => {
          tx.put(a)
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect(await repo.list()).toEqual([])
    })

    it('sees its own puts inside the transaction', async () => {
      const repo = await factory()
      const a = sampleEntry()
      const seen = await repo.mutate((tx) => {
        tx.put(a)
        return { has: tx.has(a.id), n: tx.all().length, name: tx.get(a.id)?.name }
      })
      expect(seen).toEqual({ has: true, n: 1, name: 'Sample' })
    })

    it('refuses a hash that belongs to another entry', async () => {
      const repo = await factory()
      const a = sampleEntry({}, 'same')
      const b = { ...sampleEntry({}, 'same'), id: 'bbbbbbbbbbbb' }
      await repo.mutate((tx) => tx.put(a))
      await expect(repo.mutate((tx) => tx.put(b))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' })
      expect(await repo.get('bbbbbbbbbbbb')).toBeUndefined()
    })

    it('serialises concurrent mutations (no lost update)', async () => {
      const repo = await factory()
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          repo.mutate(async (tx) => {
            const n = tx.all().length
            await new Promise((r) => setTimeout(r, 1))
            tx.put(sampleEntry({ name: `k${n}` }, `conc${i}`))
          }),
        ),
      )
      const names = (await repo.list()).map((e) => e.name).sort()
      expect(names).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort())
    })

    it('records usage per version and folds it into get/list after flush', async () => {
      const repo = await factory()
      const e = withNewVersion(sampleEntry(), 2, '2026-01-03T00:00:00.000Z')
      await repo.mutate((tx) => tx.put(e))
      await repo.recordUse({ id: e.id, version: 1, at: '2026-01-02T10:00:00.000Z' })
      await repo.recordUse({ id: e.id, version: 1, at: '2026-01-02T09:00:00.000Z' })
      await repo.recordUse({ id: e.id, version: 2, at: '2026-01-02T11:00:00.000Z' })
      await repo.flush()
      const got = (await repo.get(e.id))!
      expect(got.versions.find((v) => v.version === 1)).toMatchObject({ use_count: 2, last_used_at: '2026-01-02T10:00:00.000Z' })
      expect(got.versions.find((v) => v.version === 2)).toMatchObject({ use_count: 1, last_used_at: '2026-01-02T11:00:00.000Z' })
      expect((await repo.list())[0]!.versions.find((v) => v.version === 1)!.use_count).toBe(2)
      // A mutation keeps usage exactly (no loss, no double count).
      await repo.mutate((tx) => tx.put({ ...tx.get(e.id)!, name: 'renamed' }))
      await repo.recordUse({ id: e.id, version: 2, at: '2026-01-02T12:00:00.000Z' })
      await repo.flush()
      const after = (await repo.get(e.id))!
      expect(after.name).toBe('renamed')
      expect(after.versions.find((v) => v.version === 1)).toMatchObject({ use_count: 2, last_used_at: '2026-01-02T10:00:00.000Z' })
      expect(after.versions.find((v) => v.version === 2)).toMatchObject({ use_count: 2, last_used_at: '2026-01-02T12:00:00.000Z' })
    })

    it('with declared ids, reads and writes only those ids and refuses all()', async () => {
      const repo = await factory()
      const a = sampleEntry()
      const b = sampleEntry()
      await repo.mutate((tx) => {
        tx.put(a)
        tx.put(b)
      })
      const fresh = sampleEntry()
      const seen = await repo.mutate(
        (tx) => {
          const got = tx.get(a.id)
          tx.put({ ...got!, name: 'renamed' })
          tx.put(fresh)
          return { name: got?.name, has: tx.has(fresh.id), after: tx.get(a.id)?.name }
        },
        undefined,
        { ids: [a.id, fresh.id] },
      )
      expect(seen).toEqual({ name: 'Sample', has: true, after: 'renamed' })
      expect((await repo.get(a.id))!.name).toBe('renamed')
      expect(await repo.get(fresh.id)).toEqual(fresh)
      expect(await repo.findByHash(fresh.key_hash)).toMatchObject({ version: 1, entry: { id: fresh.id } })
      // An id not declared, or all(), is a programming error: refused, and nothing is written.
      for (const misuse of [(tx: KeyTx) => tx.get(b.id), (tx: KeyTx) => tx.has(b.id), (tx: KeyTx) => tx.all(), (tx: KeyTx) => tx.put({ ...b, name: 'x' })]) {
        await expect(
          repo.mutate(
            (tx) => {
              tx.put({ ...a, name: 'not written' })
              misuse(tx)
            },
            undefined,
            { ids: [a.id] },
          ),
        ).rejects.toMatchObject({ code: 'INTERNAL' })
      }
      expect((await repo.get(a.id))!.name).toBe('renamed')
      expect((await repo.get(b.id))!.name).toBe('Sample')
      // A declared id that does not exist reads as absent; a later full mutation sees every write.
      expect(await repo.mutate((tx) => tx.has('000000000000'), undefined, { ids: ['000000000000'] })).toBe(false)
      expect(await repo.mutate((tx) => tx.all().map((e) => `${e.id}:${e.name}`).sort())).toEqual([`${a.id}:renamed`, `${b.id}:Sample`, `${fresh.id}:Sample`].sort())
      // Hash uniqueness still holds against entries the mutation did not read.
      const clash = { ...sampleEntry(), key_hash: b.key_hash, versions: [{ ...b.versions[0]! }] }
      await expect(repo.mutate((tx) => tx.put(clash), undefined, { ids: [clash.id] })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' })
      expect(await repo.get(clash.id)).toBeUndefined()
    })

    it('keeps a rolled-back current version lower than the highest on record', async () => {
      const repo = await factory()
      const e2 = withNewVersion(sampleEntry(), 2, '2026-01-03T00:00:00.000Z')
      const rolled: KeyEntry = {
        ...e2,
        version: 1,
        key_hash: e2.versions[0]!.key_hash,
        versions: e2.versions.map((v) => (v.version === 2 ? { ...v, revoked_at: '2026-01-02T01:00:00.000Z', grace_until: '2026-01-02T01:00:00.000Z' } : { ...v, grace_until: null })),
      }
      await repo.mutate((tx) => tx.put(rolled))
      const got = (await repo.get(e2.id))!
      expect(got.version).toBe(1)
      expect(got.versions.map((v) => v.version)).toEqual([1, 2])
      expect(await repo.findByHash(e2.key_hash)).toMatchObject({ version: 2 })
    })
  })
}

import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { copyFileSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, existsSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { parseMasterKeyMaterial } from '../../core/crypto/kdf.js'
import { keyRepositoryContract, sampleEntry, withNewVersion } from '../../core/keys/key-repository.contract.js'
import { systemRandom } from '../system/system.js'
import { createFileKeystore } from './keystore-file.js'
import { tempDir } from '../../../test/helpers/cli.js'

const material = parseMasterKeyMaterial(randomBytes(32).toString('hex'), 'TEST_KEY')
const open = (dir: string, m = material) => createFileKeystore({ dir, material: m, random: systemRandom })

keyRepositoryContract('encrypted file', () => open(tempDir()).repo)
keyRepositoryContract('encrypted file (passphrase)', () => open(tempDir(), parseMasterKeyMaterial('a long test passphrase', 'P')).repo)

describe('file keystore', () => {
  it('writes one sealed file (0600 in a 0700 dir) that holds no key names or hashes in clear', async () => {
    const dir = join(tempDir(), 'keys')
    const ks = open(dir)
    const e = sampleEntry({ name: 'Very Secret Name' })
    await ks.repo.mutate((tx) => tx.put(e))
    const text = readFileSync(ks.paths.keystore, 'utf8')
    expect(text).not.toContain('Very Secret Name')
    expect(text).not.toContain(e.key_hash)
    expect(statSync(ks.paths.keystore).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
  })

  it('verify looks at the file at most every recheckMs, so another process\'s revoke counts within it', async () => {
    const dir = tempDir()
    let t = 1_000_000
    const a = createFileKeystore({ dir, material, random: systemRandom, recheckMs: 250, nowMs: () => t })
    const e = sampleEntry()
    await a.repo.mutate((tx) => tx.put(e))
    expect((await a.repo.findByHash(e.key_hash))!.entry.revoked).toBe(false)
    // Another process replaces the file (here: a generation written elsewhere, renamed into place).
    const other = tempDir()
    await open(other).repo.mutate((tx) => tx.put({ ...e, revoked: true }))
    copyFileSync(join(other, 'keystore.enc'), join(dir, 'keystore.enc.tmp'))
    renameSync(join(dir, 'keystore.enc.tmp'), join(dir, 'keystore.enc'))
    t += 100
    expect((await a.repo.findByHash(e.key_hash))!.entry.revoked).toBe(false)
    t += 200
    expect((await a.repo.findByHash(e.key_hash))!.entry.revoked).toBe(true)
    // This process's own writes, from any instance, count at once.
    const b = open(dir)
    await b.repo.mutate((tx) => tx.put({ ...tx.get(e.id)!, revoked: false }))
    expect((await a.repo.findByHash(e.key_hash))!.entry.revoked).toBe(false)
  })

  it('sees changes made by another instance (another process)', async () => {
    const dir = tempDir()
    const a = open(dir)
    const b = open(dir)
    const e = sampleEntry()
    await a.repo.mutate((tx) => tx.put(e))
    expect(await b.repo.findByHash(e.key_hash)).toMatchObject({ entry: { id: e.id } })
    await b.repo.mutate((tx) => tx.put({ ...tx.get(e.id)!, revoked: true }))
    expect((await a.repo.findByHash(e.key_hash))!.entry.revoked).toBe(true)
  })

  it('refuses a wrong master key with a clear error naming the file, and leaves the store as it was', async () => {
    const dir = tempDir()
    const ks = open(dir)
    await ks.repo.mutate((tx) => tx.put(sampleEntry()))
    const before = readFileSync(ks.paths.keystore)
    const wrong = open(dir, parseMasterKeyMaterial(randomBytes(32).toString('hex'), 'APIAUTH_MASTER_KEY'))
    await expect(wrong.repo.list()).rejects.toMatchObject({ code: 'DECRYPT_FAILED', message: expect.stringContaining(ks.paths.keystore) })
    await expect(wrong.repo.mutate((tx) => tx.put(sampleEntry()))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
    expect(readFileSync(ks.paths.keystore).equals(before)).toBe(true)
    const passphrase = open(dir, parseMasterKeyMaterial('not the right passphrase', 'APIAUTH_MASTER_KEY'))
    await expect(passphrase.check()).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
  })

  it('detects truncation and a flipped bit, and recovers from the previous generation', async () => {
    const dir = tempDir()
    const ks = open(dir)
    const a = sampleEntry()
    const b = sampleEntry()
    await ks.repo.mutate((tx) => tx.put(a))
    await ks.repo.mutate((tx) => tx.put(b))
    const good = readFileSync(ks.paths.keystore)
    // bit flip inside the ciphertext
    const doc = JSON.parse(good.toString()) as { data: string }
    const raw = Buffer.from(doc.data, 'base64')
    raw[raw.length - 5]! ^= 0x10
    writeFileSync(ks.paths.keystore, JSON.stringify({ ...doc, data: raw.toString('base64') }))
    await expect(open(dir).check()).rejects.toMatchObject({ code: 'DECRYPT_FAILED', hint: expect.stringContaining('apiauth recover') })
    // truncation
    writeFileSync(ks.paths.keystore, good)
    truncateSync(ks.paths.keystore, 100)
    const damaged = readFileSync(ks.paths.keystore)
    await expect(open(dir).check()).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining(ks.paths.keystore) })
    // mutations refuse too and leave the damaged file untouched
    await expect(open(dir).repo.mutate((tx) => tx.put(sampleEntry()))).rejects.toMatchObject({ code: 'STORE_CORRUPT' })
    expect(readFileSync(ks.paths.keystore).equals(damaged)).toBe(true)
    const r = await open(dir).recover()
    expect(r.keys).toBe(1)
    expect(readFileSync(r.damagedKeptAs).equals(damaged)).toBe(true)
    const ids = (await open(dir).repo.list()).map((e) => e.id)
    expect(ids).toEqual([a.id])
  })

  it('treats a deleted keystore beside a previous generation as damage, not as an empty store', async () => {
    const dir = tempDir()
    const ks = open(dir)
    const a = sampleEntry()
    await ks.repo.mutate((tx) => tx.put(a))
    await ks.repo.mutate((tx) => tx.put(sampleEntry()))
    rmSync(ks.paths.keystore)
    await expect(open(dir).repo.list()).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining('is missing') })
    await expect(open(dir).repo.mutate((tx) => tx.put(sampleEntry()))).rejects.toMatchObject({ code: 'STORE_CORRUPT' })
    expect((await open(dir).recover()).keys).toBe(1)
    expect((await open(dir).repo.list()).map((e) => e.id)).toEqual([a.id])
  })

  it('refuses to recover a healthy store, or from a damaged previous generation', async () => {
    const dir = tempDir()
    const ks = open(dir)
    await ks.repo.mutate((tx) => tx.put(sampleEntry()))
    await expect(ks.recover()).rejects.toMatchObject({ code: 'CONFLICT' })
    await ks.repo.mutate((tx) => tx.put(sampleEntry()))
    writeFileSync(ks.paths.keystore, 'garbage')
    writeFileSync(ks.paths.previous, 'garbage')
    await expect(open(dir).recover()).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining('.prev') })
  })

  it('records usage in an append-only log without rewriting the keystore, and compacts it on the next mutation', async () => {
    const dir = tempDir()
    const ks = open(dir)
    const e = withNewVersion(sampleEntry(), 2, '2026-01-03T00:00:00.000Z')
    await ks.repo.mutate((tx) => tx.put(e))
    const stamp = statSync(ks.paths.keystore).ino
    for (let i = 0; i < 5; i++) await ks.repo.recordUse({ id: e.id, version: 1, at: `2026-01-02T0${i}:00:00.000Z` })
    await ks.repo.flush()
    expect(statSync(ks.paths.keystore).ino).toBe(stamp)
    const log = readFileSync(ks.paths.usage, 'utf8')
    expect(log.trim().split('\n')).toHaveLength(5)
    expect(log).not.toContain(e.key_hash)
    // another process sees the usage
    expect((await open(dir).repo.get(e.id))!.versions[0]).toMatchObject({ use_count: 5, last_used_at: '2026-01-02T04:00:00.000Z' })
    await ks.repo.mutate((tx) => tx.put({ ...tx.get(e.id)!, name: 'x' }))
    expect(existsSync(ks.paths.usage)).toBe(false)
    expect(readdirSync(dir).filter((f) => f.includes('folding'))).toEqual([])
    expect((await open(dir).repo.get(e.id))!.versions[0]).toMatchObject({ use_count: 5 })
  })

  it('neither loses nor double-counts usage after a crash mid-compaction', async () => {
    const dir = tempDir()
    const ks = open(dir)
    const e = sampleEntry()
    await ks.repo.mutate((tx) => tx.put(e))
    await ks.repo.recordUse({ id: e.id, version: 1, at: '2026-01-02T00:00:00.000Z' })
    await ks.repo.flush()
    // crash after the rename, before the keystore write: the folding file is still counted
    renameSync(ks.paths.usage, join(dir, 'usage-2.folding')) // the store is at usage generation 1
    await ks.repo.recordUse({ id: e.id, version: 1, at: '2026-01-02T01:00:00.000Z' })
    await ks.repo.flush()
    expect((await open(dir).repo.get(e.id))!.versions[0]!.use_count).toBe(2)
    await ks.repo.mutate((tx) => tx.put({ ...tx.get(e.id)!, name: 'y' }))
    expect((await open(dir).repo.get(e.id))!.versions[0]!.use_count).toBe(2)
    // a stale folding file left after the keystore write is ignored
    writeFileSync(join(dir, 'usage-3.folding'), `${e.id} 1 ${Date.parse('2026-01-02T00:00:00Z')}\n`)
    expect((await open(dir).repo.get(e.id))!.versions[0]!.use_count).toBe(2)
    // torn lines are skipped
    writeFileSync(ks.paths.usage, `${e.id} 1 123\n${e.id} 1`)
    expect((await open(dir).repo.get(e.id))!.versions[0]!.use_count).toBe(3)
  })

  it('keeps JWT signing secrets sealed in the keystore', async () => {
    const dir = tempDir()
    const ks = open(dir)
    const s = await ks.signing.getOrCreate('aaaaaaaaaaaa')
    expect(s.length).toBe(32)
    expect(Buffer.from(await open(dir).signing.getOrCreate('aaaaaaaaaaaa')).equals(Buffer.from(s))).toBe(true)
    expect(readFileSync(ks.paths.keystore, 'utf8')).not.toContain(Buffer.from(s).toString('base64'))
    expect(await ks.signing.get('bbbbbbbbbbbb')).toBeUndefined()
  })
})

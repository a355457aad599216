import { describe, expect, it } from 'vitest'
import { keyRepositoryContract, sampleEntry } from './key-repository.contract.js'
import { createMemoryKeyRepository, createMemorySigningKeyStore } from './testing.js'

keyRepositoryContract('memory', () => createMemoryKeyRepository())

describe('memory fakes', () => {
  it('buffers usage until flush and can fail the next write', async () => {
    const repo = createMemoryKeyRepository()
    const e = sampleEntry()
    repo.seed([e])
    await repo.recordUse({ id: e.id, version: 1, at: '2026-01-01T00:00:00.000Z' })
    expect(repo.pendingUses()).toBe(1)
    await repo.flush()
    expect(repo.pendingUses()).toBe(0)
    repo.failNextWrite()
    await expect(repo.mutate((tx) => tx.put({ ...e, name: 'x' }))).rejects.toMatchObject({ code: 'ADAPTER_FAILED' })
    expect((await repo.get(e.id))!.name).toBe('Sample')
  })
  it('keeps one signing secret per key', async () => {
    const s = createMemorySigningKeyStore()
    const a = await s.getOrCreate('aaaaaaaaaaaa')
    expect(await s.getOrCreate('aaaaaaaaaaaa')).toBe(a)
    expect(a.length).toBe(32)
    expect(await s.get('bbbbbbbbbbbb')).toBeUndefined()
  })
})

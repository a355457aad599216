import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { open, openDocument, seal, sealDocument } from './aead.js'
import { newKdfParams, parseMasterKeyMaterial } from './kdf.js'
import { constantTimeEqual } from './compare.js'
import { randomFromAlphabet } from './generate.js'

const random = { bytes: (n: number) => randomBytes(n) }

describe('AES-256-GCM envelope', () => {
  const key = randomBytes(32)
  it('round-trips and uses a fresh nonce each time', () => {
    const a = seal(key, Buffer.from('hello'), 'place', random)
    const b = seal(key, Buffer.from('hello'), 'place', random)
    expect(a.equals(b)).toBe(false)
    expect(open(key, a, 'place', 'x').toString()).toBe('hello')
  })
  it('binds the ciphertext to its place (AAD)', () => {
    const a = seal(key, Buffer.from('hello'), 'env=prod|KEY', random)
    expect(() => open(key, a, 'env=dev|KEY', 'value')).toThrow(/cannot decrypt value/)
  })
  it('rejects a wrong key, tampering and truncation with clear codes', () => {
    const a = seal(key, Buffer.from('hello'), 'p', random)
    expect(() => open(randomBytes(32), a, 'p', 'f')).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }))
    const t = Buffer.from(a)
    t[t.length - 1]! ^= 1
    expect(() => open(key, t, 'p', 'f')).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }))
    expect(() => open(key, a.subarray(0, 10), 'p', 'f')).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }))
  })
})

describe('sealed documents', () => {
  it('work with a raw key and with a passphrase, and detect a KDF edit', async () => {
    for (const text of [randomBytes(32).toString('hex'), randomBytes(32).toString('base64'), 'correct horse battery staple']) {
      const material = parseMasterKeyMaterial(text, 'TEST_KEY')
      const kdf = newKdfParams(material, randomBytes(16))
      const doc = await sealDocument({ format: 'test', place: 'a', material, kdf, plaintext: Buffer.from('{"x":1}') }, random)
      const { plaintext } = await openDocument(doc, { format: 'test', place: 'a', material, what: 'test file' })
      expect(plaintext.toString()).toBe('{"x":1}')
      await expect(openDocument(doc, { format: 'test', place: 'b', material, what: 'test file' })).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
      const wrong = parseMasterKeyMaterial(material.kind === 'raw' ? randomBytes(32).toString('hex') : 'another passphrase here', 'TEST_KEY')
      await expect(openDocument(doc, { format: 'test', place: 'a', material: wrong, what: 'test file' })).rejects.toMatchObject({ code: 'DECRYPT_FAILED' })
    }
  })
  it('reports a corrupt document without echoing it', async () => {
    const material = parseMasterKeyMaterial('0'.repeat(64), 'K')
    await expect(openDocument('{not json', { format: 'f', place: 'p', material, what: 'keys.enc' })).rejects.toThrow(/keys.enc is corrupt/)
  })
  it('refuses an empty or too-short master key without echoing it', () => {
    expect(() => parseMasterKeyMaterial('', 'K')).toThrow(/K is empty/)
    let msg = ''
    try {
      parseMasterKeyMaterial('short', 'K')
    } catch (e) {
      msg = (e as Error).message
    }
    expect(msg).toMatch(/too short/)
    expect(msg).not.toContain('short"')
  })
})

describe('helpers', () => {
  it('compares in constant time regardless of length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true)
    expect(constantTimeEqual('abc', 'abcd')).toBe(false)
  })
  it('draws from an alphabet uniformly', () => {
    const s = randomFromAlphabet(random, 20000, 'abc')
    const counts = [...'abc'].map((c) => s.split(c).length - 1)
    for (const n of counts) expect(n).toBeGreaterThan(6000)
  })
})

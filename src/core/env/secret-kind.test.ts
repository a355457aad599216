import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { apiKeyPrefix, displayValue, generateValue, inferKind, isSecretName } from './secret-kind.js'

const random = { bytes: (n: number) => randomBytes(n) }

describe('inferKind', () => {
  it.each([
    ['DB_PASSWORD', undefined, 'database-password'],
    ['POSTGRES_PASSWORD', undefined, 'database-password'],
    ['SMTP_PASSWORD', undefined, 'password'],
    ['DATABASE_URL', 'postgres://app:pw@db:5432/app', 'url-credentials'],
    ['DATABASE_URL', 'postgres://db:5432/app', 'not-secret'],
    ['SENTRY_DSN', 'https://k:s@o1.ingest.sentry.io/1', 'url-credentials'],
    ['API_KEY', undefined, 'api-key'],
    ['STRIPE_API_KEY', undefined, 'api-key'],
    ['STRIPE_SECRET', undefined, 'api-key'],
    ['JWT_SECRET', undefined, 'jwt-secret'],
    ['WEBHOOK_SECRET', undefined, 'webhook-secret'],
    ['GITHUB_TOKEN', undefined, 'generic-secret'],
    ['DB_HOST', undefined, 'not-secret'],
    ['DB_PORT', undefined, 'not-secret'],
    ['LOG_LEVEL', undefined, 'not-secret'],
    ['NODE_ENV', undefined, 'not-secret'],
    ['FEATURE_NEW_CHECKOUT', undefined, 'not-secret'],
    ['ENABLE_SECRET_SCANNING', undefined, 'not-secret'],
    ['CACHE_TTL', undefined, 'not-secret'],
    ['PUBLIC_URL', 'https://example.com', 'not-secret'],
  ] as const)('%s → %s', (name, value, kind) => {
    expect(inferKind(name, value)).toBe(kind)
  })
})

describe('displayValue', () => {
  it('masks secrets, only the password of URLs, and shows the rest', () => {
    expect(displayValue('DB_PASSWORD', 'hunter2')).toBe('***')
    expect(displayValue('DATABASE_URL', 'postgres://app:hunter2@db/app')).toBe('postgres://app:***@db/app')
    expect(displayValue('LOG_LEVEL', 'debug')).toBe('debug')
    expect(displayValue('DB_PASSWORD', 'hunter2', true)).toBe('hunter2')
    expect(isSecretName('SHORT_TOKEN')).toBe(true)
  })
})

describe('generateValue', () => {
  it('makes database passwords without ambiguous characters, with every class', () => {
    for (let i = 0; i < 50; i++) {
      const p = generateValue('database-password', undefined, random)
      expect(p).toHaveLength(20)
      expect(p).not.toMatch(/[0O1lI]/)
      expect(p).toMatch(/[A-Z]/)
      expect(p).toMatch(/[a-z]/)
      expect(p).toMatch(/[2-9]/)
      expect(p).toMatch(/[^A-Za-z0-9]/)
    }
  })
  it('changes only the password of a URL, percent-encoded, keeping it valid', () => {
    const cur = 'postgres://app:old%40pw@db.internal:5432/app?sslmode=require'
    for (let i = 0; i < 50; i++) {
      const v = generateValue('url-credentials', cur, random)
      const u = new URL(v)
      expect(u.username).toBe('app')
      expect(u.host).toBe('db.internal:5432')
      expect(u.search).toBe('?sslmode=require')
      expect(decodeURIComponent(u.password)).toHaveLength(24)
      expect(u.password).not.toBe('old%40pw')
      expect(v.startsWith('postgres://app:')).toBe(true)
    }
  })
  it('keeps an API key prefix and honours --length for every kind', () => {
    expect(apiKeyPrefix('sk_live_51Habcdefgh')).toBe('sk_live_')
    expect(apiKeyPrefix('nothing')).toBe('')
    const k = generateValue('api-key', 'sk_live_51Habcdefgh', random)
    expect(k).toMatch(/^sk_live_[A-Za-z0-9]{32}$/)
    expect(Buffer.from(generateValue('jwt-secret', undefined, random), 'base64')).toHaveLength(32)
    expect(generateValue('webhook-secret', undefined, random)).toMatch(/^[0-9a-f]{64}$/)
    expect(generateValue('generic-secret', undefined, random)).toMatch(/^[A-Za-z0-9]{32}$/)
    for (const kind of ['database-password', 'api-key', 'jwt-secret', 'webhook-secret', 'generic-secret'] as const) {
      expect(generateValue(kind, undefined, random, 48).length).toBe(48)
    }
  })
})

import { AppError } from '../errors.js'
import type { Random } from '../ports.js'
import { randomFromAlphabet } from '../crypto/generate.js'

/**
 * What a variable holds, judged from its name (and, for URLs, from whether the value carries a
 * password). This decides what diff/sync mask, what `rotate-all` touches, and what `rotate`
 * generates (seed 002's table).
 */
export type SecretKind = 'database-password' | 'password' | 'url-credentials' | 'api-key' | 'jwt-secret' | 'webhook-secret' | 'generic-secret' | 'not-secret'

export const KIND_LABEL: Record<SecretKind, string> = {
  'database-password': 'database password',
  password: 'password',
  'url-credentials': 'URL with credentials (password only)',
  'api-key': 'prefixed API key',
  'jwt-secret': 'JWT secret (256-bit base64)',
  'webhook-secret': 'webhook secret (hex)',
  'generic-secret': 'random string',
  'not-secret': 'not a secret',
}

const PASSWORD = new Set(['PASSWORD', 'PASSWD', 'PWD', 'PASS', 'PASSPHRASE'])
const DB = new Set(['DB', 'DATABASE', 'POSTGRES', 'POSTGRESQL', 'PG', 'MYSQL', 'MARIADB', 'REDIS', 'MONGO', 'MONGODB', 'SQL', 'RDS'])
const SECRETISH = new Set(['SECRET', 'SECRETS', 'TOKEN', 'CREDENTIAL', 'CREDENTIALS', 'PRIVATE', 'SALT', 'COOKIE', 'SIGNING', 'AUTH', 'APIKEY', 'PEPPER', 'KEY', 'CERT', 'PRIVKEY'])
/** A last name part that says the value describes a secret rather than being one. */
const DESCRIPTIVE = new Set(['HOST', 'HOSTNAME', 'PORT', 'LEVEL', 'NAME', 'TTL', 'TIMEOUT', 'REGION', 'VERSION', 'PATH', 'DIR', 'FILE', 'SIZE', 'COUNT', 'LIMIT', 'ENABLED', 'MODE', 'ID', 'USER', 'USERNAME', 'EXPIRY', 'EXPIRES', 'ALGORITHM', 'ALG', 'LENGTH', 'ROTATION', 'INTERVAL'])
const FLAG_PREFIX = /^(FEATURE|ENABLE|DISABLE|FLAG|USE)_/

/** `scheme://user:password@…`: the password part, by position, or undefined. */
export function urlPasswordSpan(value: string): { start: number; end: number } | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]*)@/.exec(value)
  if (!m || m[2] === '') return undefined
  return { start: m[1]!.length, end: m[1]!.length + m[2]!.length }
}

function tokens(name: string): string[] {
  return name.toUpperCase().split(/[_.-]+/).filter(Boolean)
}

/** Whether the variable's name says it holds a secret (the value itself is not looked at). */
export function isSecretName(name: string): boolean {
  const k = inferKind(name)
  return k !== 'not-secret' && k !== 'url-credentials'
}

/**
 * Infers the kind from the name; `value` (when known) tells a URL with credentials from one
 * without.
 */
export function inferKind(name: string, value?: string): SecretKind {
  const t = tokens(name)
  const upper = name.toUpperCase()
  const last = t[t.length - 1] ?? ''
  if (value !== undefined && urlPasswordSpan(value)) return 'url-credentials'
  if (['URL', 'URI', 'DSN'].includes(last) || upper.endsWith('CONNECTION_STRING')) return 'not-secret'
  if (FLAG_PREFIX.test(upper) || upper === 'NODE_ENV' || DESCRIPTIVE.has(last)) return 'not-secret'
  const has = (s: Set<string>) => t.some((x) => s.has(x))
  if (t.includes('JWT') && (t.includes('SECRET') || t.includes('KEY'))) return 'jwt-secret'
  if (t.includes('WEBHOOK') && (t.includes('SECRET') || t.includes('KEY') || t.includes('TOKEN'))) return 'webhook-secret'
  if (has(PASSWORD)) return has(DB) ? 'database-password' : 'password'
  if (t.includes('APIKEY') || (t.includes('API') && t.includes('KEY')) || last === 'SECRET' || last === 'KEY' || upper.endsWith('SECRET_KEY') || upper.endsWith('ACCESS_KEY')) return 'api-key'
  if (has(SECRETISH)) return 'generic-secret'
  return 'not-secret'
}

export const MASK = '***'

/**
 * The value as diff, sync and list show it: a secret-named variable is fully masked; a URL with
 * credentials shows everything but its password; anything else is shown.
 */
export function displayValue(name: string, value: string, show = false): string {
  if (show) return value
  if (isSecretName(name)) return value === '' ? '""' : MASK
  const span = urlPasswordSpan(value)
  if (span) return value.slice(0, span.start) + MASK + value.slice(span.end)
  return value
}

/** Whether the variable (name, or credentials inside its value) counts as a secret. */
export function isSecretVariable(name: string, value: string): boolean {
  return isSecretName(name) || urlPasswordSpan(value) !== undefined
}

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ' // no I, O
const LOWER = 'abcdefghijkmnpqrstuvwxyz' // no l, o
const DIGITS = '23456789' // no 0, 1
const SYMBOLS = '#$!@&%*+=?^_-~'
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** A password with no ambiguous characters that has upper, lower, digit and symbol. */
export function generatePassword(random: Random, length: number): string {
  const all = UPPER + LOWER + DIGITS + SYMBOLS
  for (;;) {
    const s = randomFromAlphabet(random, length, all)
    if (length < 4) return s
    if ([UPPER, LOWER, DIGITS, SYMBOLS].every((set) => [...s].some((c) => set.includes(c)))) return s
  }
}

/**
 * The URL with its password replaced by `password` (percent-encoded); everything else is kept
 * byte for byte, and the result must still parse with the same host, user and path.
 */
export function withUrlPassword(current: string, password: string): string {
  const span = urlPasswordSpan(current)
  if (!span) throw new AppError('USAGE', 'this URL has no password to rotate')
  const out = current.slice(0, span.start) + encodeURIComponent(password) + current.slice(span.end)
  try {
    const before = new URL(current)
    const after = new URL(out)
    if (before.host !== after.host || before.username !== after.username || before.pathname !== after.pathname || decodeURIComponent(after.password) !== password) throw new Error('changed')
  } catch (cause) {
    throw new AppError('USAGE', 'the current value is not a valid URL; rotate it with --force to replace it whole', { cause })
  }
  return out
}

/** The existing prefix of an API key (`sk_live_`, `ak_`, `staging_key_`), or ''. */
export function apiKeyPrefix(current: string | undefined): string {
  if (!current) return ''
  const m = /^((?:[A-Za-z0-9]{1,12}_){1,3})[A-Za-z0-9]/.exec(current)
  if (!m) return ''
  return current.length - m[1]!.length >= 6 ? m[1]! : ''
}

export const DEFAULT_LENGTH: Record<SecretKind, number> = {
  'database-password': 20,
  password: 20,
  'url-credentials': 24,
  'api-key': 32,
  'jwt-secret': 44,
  'webhook-secret': 64,
  'generic-secret': 32,
  'not-secret': 32,
}

/**
 * A new value of the given kind. `current` supplies an API key's prefix and a URL's other parts;
 * `length` counts the characters of the generated part (the random part of an API key, the
 * password inside a URL).
 */
export function generateValue(kind: SecretKind, current: string | undefined, random: Random, length?: number): string {
  const n = length ?? DEFAULT_LENGTH[kind]
  switch (kind) {
    case 'database-password':
    case 'password':
      return generatePassword(random, n)
    case 'url-credentials':
      return withUrlPassword(current ?? '', generatePassword(random, n))
    case 'api-key':
      return apiKeyPrefix(current) + randomFromAlphabet(random, n, BASE62)
    case 'jwt-secret':
      if (length === undefined) return random.bytes(32).toString('base64')
      return random.bytes(Math.ceil((n * 3) / 4) + 1).toString('base64').replace(/=+$/, '').slice(0, n)
    case 'webhook-secret':
      return random.bytes(Math.ceil(n / 2)).toString('hex').slice(0, n)
    case 'generic-secret':
    case 'not-secret':
      return randomFromAlphabet(random, n, BASE62)
  }
}

import { AppError } from '../errors.js'
import { isValidKey, type DotenvDocument, type PairItem, type QuoteStyle } from './dotenv-parse.js'

/**
 * The one .env writer. It edits a parsed document in place: a changed value replaces only the
 * value's own characters (its indentation, `export ` prefix, spacing around `=`, quoting style,
 * inline comment and line ending stay), a removed key removes only its lines, and a new key is
 * appended at the end with the file's line ending. Nothing is sorted or reformatted, and `${VAR}`
 * is written back literally.
 *
 * It is hand-written on purpose: dotenv, dotenvx and the other libraries we looked at either only
 * parse, or rewrite the whole file from a key/value map, losing comments, order and quoting.
 */

/** Characters that make an unquoted value ambiguous for us or for other dotenv readers. */
const UNSAFE_UNQUOTED = /[\r\n#"'`$\\]|^[ \t]|[ \t]$/

function encodeDouble(v: string): string {
  return `"${v.replace(/[\\"\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : c === '\n' ? '\\n' : '\\r'))}"`
}

/**
 * Encodes a value, keeping `preferred` quoting when it can represent the value exactly;
 * `keepDollar` lets an unquoted value keep a `$` (for a value that was unquoted before, such as
 * `${VAR}` being decrypted back); new values with `$` are quoted so other tools do not expand them.
 * Otherwise single quotes (literal, no expansion by other tools), else double quotes with escapes.
 */
export function encodeValue(value: string, preferred: QuoteStyle = 'none', o: { keepDollar?: boolean } = {}): string {
  switch (preferred) {
    case 'none':
      if (!UNSAFE_UNQUOTED.test(o.keepDollar ? value.replace(/\$/g, '') : value)) return value
      break
    case 'double':
      return encodeDouble(value)
    case 'single':
      if (!value.includes("'")) return `'${value}'`
      break
    case 'backtick':
      if (!value.includes('`')) return `\`${value}\``
      break
  }
  if (!value.includes("'") && !/[\r\n]/.test(value)) return `'${value}'`
  return encodeDouble(value)
}

function quoteOf(raw: string): QuoteStyle {
  const c = raw[0]
  return c === '"' ? 'double' : c === "'" ? 'single' : c === '`' ? 'backtick' : 'none'
}

function rebuild(it: PairItem, valueRaw: string, value: string): void {
  let tail = it.tail
  // `KEY="v"# note` becomes `KEY=w # note`: an unquoted value needs a space before the comment.
  if (quoteOf(valueRaw) === 'none' && valueRaw !== '' && tail.startsWith('#')) tail = ` ${tail}`
  it.value = value
  it.valueRaw = valueRaw
  it.quote = quoteOf(valueRaw)
  it.tail = tail
  it.raw = it.head + valueRaw + tail + it.eol
}

function lastIndexOfKey(doc: DotenvDocument, key: string): number {
  for (let i = doc.items.length - 1; i >= 0; i--) {
    const it = doc.items[i]!
    if (it.kind === 'pair' && it.key === key) return i
  }
  return -1
}

/**
 * Sets `key` to `value`. An existing key is edited where it stands (the last definition, the one
 * that wins); a new one is appended. `encoded`, when given, is written as the value's raw text
 * instead (used for ciphertext, which must keep the value's quoting).
 */
export function setValue(doc: DotenvDocument, key: string, value: string, o: { raw?: (style: QuoteStyle) => string } = {}): void {
  if (!isValidKey(key)) throw new AppError('USAGE', `invalid variable name "${key}": use letters, digits and _ (not starting with a digit)`)
  const i = lastIndexOfKey(doc, key)
  if (i >= 0) {
    const it = doc.items[i] as PairItem
    if (it.value === value && o.raw === undefined) return
    const raw = o.raw ? o.raw(it.quote) : encodeValue(value, it.quote)
    rebuild(it, raw, value)
    return
  }
  const last = doc.items[doc.items.length - 1]
  if (last && !last.raw.endsWith('\n')) {
    last.raw += doc.eol
    if (last.kind === 'pair') last.eol = doc.eol
  }
  const raw = o.raw ? o.raw('none') : encodeValue(value, 'none')
  const line = last ? last.line + (last.raw.match(/\n/g)?.length ?? 0) : 1
  doc.items.push({
    kind: 'pair',
    key,
    value,
    quote: quoteOf(raw),
    head: `${key}=`,
    valueRaw: raw,
    tail: '',
    eol: doc.eol,
    line,
    exported: false,
    raw: `${key}=${raw}${doc.eol}`,
  })
}

/** Replaces a value's raw text without changing what it means (e.g. ciphertext ↔ plaintext). */
export function setRawValue(it: PairItem, valueRaw: string, value: string): void {
  rebuild(it, valueRaw, value)
}

/** Removes every definition of `key`; returns whether there was one. */
export function unsetKey(doc: DotenvDocument, key: string): boolean {
  const before = doc.items.length
  doc.items = doc.items.filter((it) => !(it.kind === 'pair' && it.key === key))
  return doc.items.length !== before
}

import { AppError } from '../errors.js'

/**
 * The one .env parser used by every envault command.
 *
 * A file is a list of items whose `raw` texts, concatenated, give back the file byte for byte.
 * An item is a blank line, a comment, a `KEY=value` pair (which may span several lines when a
 * quoted value holds newlines) or a line we could not read (kept as is and reported). Keeping the
 * raw text is what lets the writer (dotenv-write.ts) edit one value in place without touching
 * anything else.
 *
 * Grammar (compatible with dotenv/dotenvx for what they both accept):
 * - `[export ]KEY=value`, spaces allowed around `=`; KEY is `[A-Za-z_][A-Za-z0-9_.-]*`;
 * - unquoted values end at ` #` (a comment) and are trimmed; they are taken literally;
 * - `'single'` and `` `backtick` `` values are literal and may span lines;
 * - `"double"` values may span lines and understand `\n \r \t \" \\` (other backslashes stay);
 * - `${VAR}` is never expanded: it is part of the value, and written back as it was;
 * - `KEY=` is an empty value, distinct from a key that is absent.
 */
export type QuoteStyle = 'none' | 'single' | 'double' | 'backtick'

export interface PairItem {
  kind: 'pair'
  key: string
  value: string
  quote: QuoteStyle
  /** Everything before the value: indentation, `export `, the key and the `=` with its spaces. */
  head: string
  /** The value as written, quotes included. */
  valueRaw: string
  /** What follows the value on its last line (spaces, an inline comment), without the line end. */
  tail: string
  /** The line ending: '\n', '\r\n' or '' at the end of the file. */
  eol: string
  /** 1-based line number of the first line. */
  line: number
  exported: boolean
  raw: string
}

export interface OtherItem {
  kind: 'blank' | 'comment' | 'invalid'
  raw: string
  line: number
}

export type DotenvItem = PairItem | OtherItem

export interface DotenvProblem {
  line: number
  kind: 'invalid' | 'duplicate'
  message: string
}

export interface DotenvDocument {
  items: DotenvItem[]
  /** The file's line ending, used for lines the writer adds. */
  eol: '\n' | '\r\n'
  /** Lines we could not read and keys defined twice (the last definition wins, as in dotenv). */
  problems: DotenvProblem[]
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/
const FAST_RE = /([A-Za-z_][A-Za-z0-9_.-]*)=([^\s#"'`](?:[^\r\n#]*[^\s#])?)?(\r?\n|$)/y
const HEAD_RE = /^([ \t]*)(export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)([ \t]*=[ \t]*)/

/** Whether a string is a valid variable name for this grammar. */
export function isValidKey(key: string): boolean {
  return KEY_RE.test(key)
}

/**
 * Refuses input that is not text: NUL bytes, or bytes that are not UTF-8 (shown as U+FFFD when
 * decoded). `what` names the file in the error; the content is never echoed.
 */
export function assertText(buf: Uint8Array, what: string): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.includes(0)) throw new AppError('PARSE_ERROR', `${what} is not a text file (it contains NUL bytes)`)
  const text = b.toString('utf8')
  if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(b)) {
    throw new AppError('PARSE_ERROR', `${what} is not valid UTF-8 text`)
  }
  return text
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([nrt"\\])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c))
}

/** Finds the closing quote of a double-quoted value starting at `from` (after the opening quote). */
function findDoubleClose(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 92 /* \ */) {
      i++
      continue
    }
    if (c === 34 /* " */) return i
  }
  return -1
}

/** Position of the end of the line that contains `pos` (index of '\n' or text.length). */
function lineEnd(text: string, pos: number): number {
  const n = text.indexOf('\n', pos)
  return n === -1 ? text.length : n
}

function splitEol(text: string, start: number, nl: number): { body: string; eol: string; next: number } {
  if (nl >= text.length) return { body: text.slice(start), eol: '', next: text.length }
  const crlf = nl > start && text.charCodeAt(nl - 1) === 13
  return { body: text.slice(start, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n', next: nl + 1 }
}

function countNewlines(s: string): number {
  let n = 0
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++
  return n
}

/** A tail after a closing quote must be blank or a comment. */
function validTail(tail: string): boolean {
  return /^[ \t]*(#.*)?$/.test(tail)
}

/** Parses .env text into items; never throws on content (bad lines become `invalid` items). */
export function parseDotenv(text: string): DotenvDocument {
  const items: DotenvItem[] = []
  const problems: DotenvProblem[] = []
  const firstNl = text.indexOf('\n')
  const eol: '\n' | '\r\n' = firstNl > 0 && text.charCodeAt(firstNl - 1) === 13 ? '\r\n' : '\n'
  const seen = new Map<string, number>()
  let pos = 0
  let line = 1
  while (pos < text.length) {
    // Fast path for the common `KEY=plain` line (no export, spaces, quotes or comment); it gives
    // exactly what the general path below would.
    FAST_RE.lastIndex = pos
    const f = FAST_RE.exec(text)
    if (f) {
      const key = f[1]!
      const value = f[2] ?? ''
      const raw = f[0]
      items.push({ kind: 'pair', key, value, quote: 'none', head: `${key}=`, valueRaw: value, tail: '', eol: f[3]!, line, exported: false, raw })
      const prevLine = seen.get(key)
      if (prevLine !== undefined) problems.push({ line, kind: 'duplicate', message: `${key} is defined twice (lines ${prevLine} and ${line}); the last one wins` })
      seen.set(key, line)
      pos += raw.length
      line++
      continue
    }
    const nl = lineEnd(text, pos)
    const { body, eol: lineEol, next } = splitEol(text, pos, nl)
    const trimmed = body.trim()
    if (trimmed === '') {
      items.push({ kind: 'blank', raw: text.slice(pos, next), line })
      pos = next
      line++
      continue
    }
    if (trimmed.startsWith('#')) {
      items.push({ kind: 'comment', raw: text.slice(pos, next), line })
      pos = next
      line++
      continue
    }
    const m = HEAD_RE.exec(body)
    if (!m) {
      items.push({ kind: 'invalid', raw: text.slice(pos, next), line })
      problems.push({ line, kind: 'invalid', message: `line ${line} is not KEY=VALUE (kept as is)` })
      pos = next
      line++
      continue
    }
    const head = m[0]
    const key = m[3]!
    const vStart = pos + head.length
    const q = text[vStart]
    let item: PairItem | undefined
    if (q === '"' || q === "'" || q === '`') {
      const close = q === '"' ? findDoubleClose(text, vStart + 1) : text.indexOf(q, vStart + 1)
      if (close !== -1) {
        const closeLineEnd = lineEnd(text, close)
        const last = splitEol(text, close, closeLineEnd)
        const tail = last.body.slice(1)
        if (validTail(tail)) {
          const inner = text.slice(vStart + 1, close)
          const value = q === '"' ? unescapeDouble(inner) : inner
          const raw = text.slice(pos, last.next)
          item = {
            kind: 'pair',
            key,
            value,
            quote: q === '"' ? 'double' : q === "'" ? 'single' : 'backtick',
            head,
            valueRaw: text.slice(vStart, close + 1),
            tail,
            eol: last.eol,
            line,
            exported: m[2] !== undefined,
            raw,
          }
          items.push(item)
          line += countNewlines(raw)
          pos = last.next
        }
      }
      if (!item) {
        // An unterminated quote or junk after the closing quote: keep the first line as is.
        items.push({ kind: 'invalid', raw: text.slice(pos, next), line })
        problems.push({ line, kind: 'invalid', message: `line ${line} has an unterminated or malformed quoted value (kept as is)` })
        pos = next
        line++
        continue
      }
    } else {
      const rest = body.slice(head.length)
      const c = /(^|[ \t])#/.exec(rest)
      const valuePart = c ? rest.slice(0, c.index) : rest
      const value = valuePart.replace(/[ \t]+$/, '')
      item = {
        kind: 'pair',
        key,
        value,
        quote: 'none',
        head,
        valueRaw: value,
        tail: rest.slice(value.length),
        eol: lineEol,
        line,
        exported: m[2] !== undefined,
        raw: text.slice(pos, next),
      }
      items.push(item)
      pos = next
      line++
    }
    const prevLine = seen.get(key)
    if (prevLine !== undefined) {
      problems.push({ line: item.line, kind: 'duplicate', message: `${key} is defined twice (lines ${prevLine} and ${item.line}); the last one wins` })
    }
    seen.set(key, item.line)
  }
  return { items, eol, problems }
}

/** The variables of a document, in file order; for a duplicate key the last value wins. */
export function toMap(doc: DotenvDocument): Map<string, string> {
  const out = new Map<string, string>()
  for (const it of doc.items) if (it.kind === 'pair') out.set(it.key, it.value)
  return out
}

/** The document as text: unchanged items give back the original bytes. */
export function serializeDotenv(doc: DotenvDocument): string {
  let s = ''
  for (const it of doc.items) s += it.raw
  return s
}

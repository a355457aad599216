import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parse as dotenvParse } from 'dotenv'
import { assertText, parseDotenv, serializeDotenv, toMap } from './dotenv-parse.js'
import { encodeValue, setValue, unsetKey } from './dotenv-write.js'

const sample = [
  '# database',
  'export DB_HOST=localhost',
  'DB_PASS="p@ss\\nword"  # inline',
  "SINGLE='lit ${HOME} \\n'",
  'URL=${BASE}/api',
  'EMPTY=',
  '',
  'MULTI="line1',
  'line2"',
  'SPACED = value with spaces   # c',
  'TICK=`back`',
].join('\n')

describe('parseDotenv', () => {
  it('reads values, quotes, exports, comments and multi-line values', () => {
    const doc = parseDotenv(sample)
    const m = toMap(doc)
    expect(m.get('DB_HOST')).toBe('localhost')
    expect(m.get('DB_PASS')).toBe('p@ss\nword')
    expect(m.get('SINGLE')).toBe('lit ${HOME} \\n')
    expect(m.get('URL')).toBe('${BASE}/api')
    expect(m.get('EMPTY')).toBe('')
    expect(m.has('MISSING')).toBe(false)
    expect(m.get('MULTI')).toBe('line1\nline2')
    expect(m.get('SPACED')).toBe('value with spaces')
    expect(m.get('TICK')).toBe('back')
    expect(doc.problems).toEqual([])
    expect(serializeDotenv(doc)).toBe(sample)
  })
  it('agrees with dotenv on the values both accept', () => {
    const text = 'A=1\nB="two words"\nC=\'x y\'\nD=plain # comment\nE=\nexport F=f\n'
    expect(Object.fromEntries(toMap(parseDotenv(text)))).toEqual(dotenvParse(text))
  })
  it('reports malformed lines and duplicate keys by line number, keeping them', () => {
    const text = 'A=1\nnot a pair\nB="unterminated\nA=2\n'
    const doc = parseDotenv(text)
    expect(doc.problems.map((p) => [p.kind, p.line])).toEqual([
      ['invalid', 2],
      ['invalid', 3],
      ['duplicate', 4],
    ])
    expect(toMap(doc).get('A')).toBe('2')
    expect(serializeDotenv(doc)).toBe(text)
    // problems never quote the line's content
    expect(doc.problems.map((p) => p.message).join()).not.toContain('unterminated"')
  })
  it('keeps CRLF line endings and uses them for new lines', () => {
    const text = 'A=1\r\nB="x"\r\n'
    const doc = parseDotenv(text)
    expect(toMap(doc).get('A')).toBe('1')
    setValue(doc, 'C', '3')
    setValue(doc, 'A', 'one')
    expect(serializeDotenv(doc)).toBe('A=one\r\nB="x"\r\nC=3\r\n')
  })
  it('refuses binary input', () => {
    expect(() => assertText(Buffer.from([0x41, 0x3d, 0x00, 0x01]), '.env.bin')).toThrow(/\.env\.bin is not a text file/)
    expect(() => assertText(Buffer.from([0x41, 0x3d, 0xff, 0xfe]), '.env.bin')).toThrow(/not valid UTF-8/)
  })
  it('parses a 10 MB file', () => {
    const big = Array.from({ length: 200_000 }, (_, i) => `KEY_${i}=${'v'.repeat(40)}${i}`).join('\n')
    expect(big.length).toBeGreaterThan(10_000_000)
    const doc = parseDotenv(big)
    expect(toMap(doc).size).toBe(200_000)
    expect(serializeDotenv(doc)).toBe(big)
  })
})

describe('the writer edits in place', () => {
  it('changes only the value, keeping export, spacing, quotes and comments', () => {
    const doc = parseDotenv(sample)
    setValue(doc, 'DB_HOST', 'db.internal')
    setValue(doc, 'DB_PASS', 'new"pw')
    setValue(doc, 'SPACED', 'x')
    setValue(doc, 'SINGLE', 'still ${LIT}')
    const out = serializeDotenv(doc)
    expect(out).toContain('export DB_HOST=db.internal\n')
    expect(out).toContain('DB_PASS="new\\"pw"  # inline\n')
    expect(out).toContain('SPACED = x   # c\n')
    expect(out).toContain("SINGLE='still ${LIT}'\n")
    expect(out.startsWith('# database\n')).toBe(true)
    expect(toMap(parseDotenv(out)).get('DB_PASS')).toBe('new"pw')
  })
  it('appends a new key after a file without a final newline, and removes keys', () => {
    const doc = parseDotenv('A=1')
    setValue(doc, 'B', 'has space ')
    expect(serializeDotenv(doc)).toBe("A=1\nB='has space '\n")
    expect(unsetKey(doc, 'A')).toBe(true)
    expect(unsetKey(doc, 'A')).toBe(false)
    expect(serializeDotenv(doc)).toBe("B='has space '\n")
  })
  it('adds a space before an inline comment when a quoted value becomes unquoted', () => {
    const doc = parseDotenv("A=''# note\n")
    setValue(doc, 'A', 'x')
    expect(toMap(parseDotenv(serializeDotenv(doc))).get('A')).toBe('x')
  })
  it('refuses an invalid variable name', () => {
    expect(() => setValue(parseDotenv(''), '1BAD', 'x')).toThrow(/invalid variable name/)
  })
})

const keyArb = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/)
const valueArb = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '#', '"', "'", '`', '$', '{', '}', '\\', '\n', '\r', '\t', '=', 'é', '🙂'), maxLength: 20 })
const lineArb = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 10 }).map((s) => `# ${s.replace(/[\r\n]/g, '')}`),
  fc.tuple(keyArb, valueArb, fc.constantFrom<'none' | 'single' | 'double' | 'backtick'>('none', 'single', 'double', 'backtick'), fc.boolean(), fc.constantFrom('', ' # c', '  ')).map(
    ([k, v, q, exp, tail]) => `${exp ? 'export ' : ''}${k}=${encodeValue(v, q)}${tail}`,
  ),
)
const docArb = fc.tuple(fc.array(lineArb, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), fc.boolean()).map(([lines, eol, final]) => lines.join(eol) + (final && lines.length ? eol : ''))

describe('round-trip properties', () => {
  it('parse then serialize gives back any text byte for byte', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => serializeDotenv(parseDotenv(s)) === s))
    fc.assert(fc.property(docArb, (s) => serializeDotenv(parseDotenv(s)) === s))
  })
  it('every encoded value reads back exactly, whatever its quoting', () => {
    fc.assert(
      fc.property(keyArb, valueArb, fc.constantFrom<'none' | 'single' | 'double' | 'backtick'>('none', 'single', 'double', 'backtick'), (k, v, q) => {
        const doc = parseDotenv(`${k}=${encodeValue(v, q)}\n`)
        return doc.problems.length === 0 && toMap(doc).get(k) === v
      }),
    )
  })
  it('setting one value changes that value only and keeps every other line', () => {
    fc.assert(
      fc.property(docArb, keyArb, valueArb, (text, k, v) => {
        const doc = parseDotenv(text)
        const before = toMap(doc)
        const otherLines = doc.items.filter((it) => !(it.kind === 'pair' && it.key === k)).map((it) => it.raw.replace(/\r?\n$/, ''))
        setValue(doc, k, v)
        const out = serializeDotenv(doc)
        const after = toMap(parseDotenv(out))
        expect(after.get(k)).toBe(v)
        for (const [key, val] of before) if (key !== k) expect(after.get(key)).toBe(val)
        for (const l of otherLines) expect(out).toContain(l)
      }),
    )
  })
})

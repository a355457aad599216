/**
 * Everything a command prints goes through here. Output is plain when piped (no colour, no
 * wrapping, no progress redraws), NO_COLOR is honoured, and user-supplied text is printed
 * literally: there is no markup language to inject into, and control characters are escaped
 * so a key name cannot move the cursor or clear the screen.
 */
export interface Sink {
  write(s: string): unknown
  isTTY?: boolean
}

export interface Output {
  readonly json: boolean
  readonly color: boolean
  readonly interactive: boolean
  /** A line on stdout. */
  line(s?: string): void
  /** A line on stderr (diagnostics, progress). */
  note(s: string): void
  /** A JSON document on stdout, on one line per document when piped. */
  data(v: unknown): void
  /** Progress for long work: redrawn in place on a terminal, one line per step when piped, silent with --json. */
  progress(done: number, total: number, label: string): void
  green(s: string): string
  red(s: string): string
  yellow(s: string): string
  dim(s: string): string
}

/** Escapes C0/C1 control characters (except tab) so user text prints literally. */
export function safe(s: string): string {
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

export function createOutput(o: { stdout: Sink; stderr: Sink; env: Record<string, string | undefined>; json: boolean }): Output {
  const tty = o.stdout.isTTY === true
  const noColor = o.env.NO_COLOR !== undefined && o.env.NO_COLOR !== ''
  const color = tty && !noColor && !o.json && o.env.TERM !== 'dumb'
  const paint = (code: number) => (s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s)
  const errTty = o.stderr.isTTY === true
  return {
    json: o.json,
    color,
    interactive: tty,
    line: (s = '') => void o.stdout.write(s + '\n'),
    note: (s) => void o.stderr.write(s + '\n'),
    data: (v) => void o.stdout.write(JSON.stringify(v, null, tty ? 2 : undefined) + '\n'),
    progress: (done, total, label) => {
      if (o.json) return
      if (errTty) o.stderr.write(`\r\u001b[2K[${done}/${total}] ${safe(label)}${done === total ? '\n' : ''}`)
      else o.stderr.write(`[${done}/${total}] ${safe(label)}\n`)
    },
    green: paint(32),
    red: paint(31),
    yellow: paint(33),
    dim: paint(2),
  }
}

import { randomBytes } from 'node:crypto'
import { promises as fs, constants as fsc } from 'node:fs'
import { dirname } from 'node:path'
import type { AuditEvent, AuditEventInput, AuditLog, AuditQuery, AuditVerifyResult } from '../../core/audit/audit-event.js'
import { GENESIS_HASH, chainEvent, matchesQuery, verifyChain } from '../../core/audit/hash-chain.js'
import { AppError } from '../../core/errors.js'
import type { Clock } from '../../core/ports.js'
import { withFileLock } from './file-lock.js'

export interface JsonlAuditOptions {
  path: string
  clock: Clock
  /** Default actor for events that do not name one. */
  actor: string
}

/** Reads the last complete line of a file without reading the whole file. */
async function lastLine(h: fs.FileHandle, size: number): Promise<string | undefined> {
  let chunk = 64 * 1024
  while (true) {
    const start = Math.max(0, size - chunk)
    const buf = Buffer.alloc(size - start)
    await h.read(buf, 0, buf.length, start)
    const text = buf.toString('utf8').replace(/\n+$/, '')
    const nl = text.lastIndexOf('\n')
    if (nl >= 0 || start === 0) return text.slice(nl + 1) || undefined
    chunk *= 4
  }
}

function parseLines(text: string, path: string): AuditEvent[] {
  const out: AuditEvent[] = []
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    try {
      out.push(JSON.parse(line) as AuditEvent)
    } catch {
      throw new AppError('AUDIT_CHAIN_BROKEN', `${path} line ${i + 1} is not a valid audit record`)
    }
  }
  return out
}

/**
 * An append-only JSON-lines audit log. Each event carries the hash of the one before it, so an
 * edit or deletion is detected by `verify`. Appends take a cross-process lock, read only the
 * tail of the file to find the previous hash, and fsync before returning: a change whose event
 * could not be written must fail.
 *
 * Appends are group-committed: the events that arrive while one batch is being written wait for
 * the next, which takes the lock once, writes them all (chained in arrival order) and fsyncs
 * once. Each `append` still resolves only after its own event is durable, and fails if its batch
 * could not be written; a busy `envault serve` pays one fsync per batch instead of one per read.
 */
export function createJsonlAuditLog(o: JsonlAuditOptions): AuditLog {
  const { path, clock } = o
  interface Pending {
    input: AuditEventInput
    resolve(e: AuditEvent): void
    reject(e: unknown): void
  }
  let queue: Pending[] = []
  let writing = false

  async function writeBatch(batch: Pending[]): Promise<AuditEvent[]> {
    await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 })
    return withFileLock(path, async () => {
      const h = await fs.open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_APPEND, 0o600)
      try {
        const { size } = await h.stat()
        let prev = GENESIS_HASH
        let seq = 1
        if (size > 0) {
          const line = await lastLine(h, size)
          if (line !== undefined) {
            let last: AuditEvent
            try {
              last = JSON.parse(line) as AuditEvent
            } catch {
              throw new AppError('AUDIT_CHAIN_BROKEN', `${path} ends with a damaged record; run "rekey audit verify"`)
            }
            prev = last.hash
            seq = last.seq + 1
          }
        }
        const ts = clock.now().toISOString()
        const events: AuditEvent[] = []
        for (const p of batch) {
          const ev = chainEvent(p.input, { seq, prev, id: `evt_${randomBytes(8).toString('hex')}`, ts, actor: o.actor })
          events.push(ev)
          prev = ev.hash
          seq++
        }
        await h.write(events.map((e) => JSON.stringify(e) + '\n').join(''))
        await h.sync()
        return events
      } finally {
        await h.close()
      }
    })
  }

  async function drain(): Promise<void> {
    writing = true
    try {
      while (queue.length > 0) {
        const batch = queue
        queue = []
        try {
          const events = await writeBatch(batch)
          batch.forEach((p, i) => p.resolve(events[i]!))
        } catch (cause) {
          const err = cause instanceof AppError && cause.code === 'AUDIT_CHAIN_BROKEN' ? cause : new AppError('AUDIT_WRITE_FAILED', `cannot write the audit log ${path}; the change was not made`, { cause })
          for (const p of batch) p.reject(err)
        }
      }
    } finally {
      writing = false
    }
  }

  return {
    append(input: AuditEventInput): Promise<AuditEvent> {
      return new Promise<AuditEvent>((resolve, reject) => {
        queue.push({ input, resolve, reject })
        if (!writing) void drain()
      })
    },
    async read(q?: AuditQuery): Promise<AuditEvent[]> {
      let text: string
      try {
        text = await fs.readFile(path, 'utf8')
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
        throw new AppError('ADAPTER_FAILED', `cannot read the audit log ${path}`, { cause: e })
      }
      return parseLines(text, path).filter((e) => matchesQuery(e, q))
    },
    async verify(): Promise<AuditVerifyResult> {
      let text: string
      try {
        text = await fs.readFile(path, 'utf8')
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, count: 0 }
        throw e
      }
      let events: AuditEvent[]
      try {
        events = parseLines(text, path)
      } catch (e) {
        const line = /line (\d+)/.exec((e as Error).message)?.[1]
        return { ok: false, count: 0, brokenAt: Number(line ?? 0), reason: (e as Error).message }
      }
      return verifyChain(events)
    },
  }
}

import { EventEmitter } from 'node:events'
import pg from 'pg'
import { channelOf, type ChangeEvent } from './db.js'

export interface ChangeListener {
  /** Change notifications from every instance (including this one). */
  on(ev: 'change', fn: (e: ChangeEvent) => void): void
  /**
   * The connection was lost or re-established: notifications may have been missed, so every
   * cache must be dropped. While `connected` is false, caches must not be trusted.
   */
  on(ev: 'reset', fn: () => void): void
  readonly connected: boolean
  close(): Promise<void>
}

/**
 * A dedicated connection that LISTENs on the schema's channel, reconnecting with backoff. A
 * cache fed by it is correct without a TTL: while the listener is down the cache is bypassed,
 * and on reconnect it is dropped whole.
 */
export async function startChangeListener(o: { url: string; schema: string; onError?: (e: unknown) => void }): Promise<ChangeListener> {
  const em = new EventEmitter()
  em.setMaxListeners(50)
  let client: pg.Client | undefined
  let connected = false
  let closed = false
  let delay = 100
  const channel = channelOf(o.schema)

  const connectOnce = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: o.url, connectionTimeoutMillis: 5000 })
    c.on('notification', (n) => {
      if (n.channel !== channel || !n.payload) return
      try {
        em.emit('change', JSON.parse(n.payload) as ChangeEvent)
      } catch {
        em.emit('reset')
      }
    })
    const lost = (e?: unknown) => {
      if (client !== c) return
      client = undefined
      connected = false
      em.emit('reset')
      if (e) o.onError?.(e)
      c.end().catch(() => undefined)
      if (!closed) schedule()
    }
    c.on('error', lost)
    c.on('end', () => lost())
    await c.connect()
    await c.query(`LISTEN ${channel}`)
    client = c
    connected = true
    delay = 100
    em.emit('reset')
  }
  const schedule = () => {
    setTimeout(() => {
      if (closed) return
      connectOnce().catch((e: unknown) => {
        o.onError?.(e)
        delay = Math.min(delay * 2, 5000)
        schedule()
      })
    }, delay).unref()
  }
  await connectOnce()
  return {
    on: (ev: string, fn: (...a: any[]) => void) => void em.on(ev, fn), // eslint-disable-line @typescript-eslint/no-explicit-any
    get connected() {
      return connected
    },
    async close() {
      closed = true
      const c = client
      client = undefined
      connected = false
      await c?.end().catch(() => undefined)
    },
  }
}

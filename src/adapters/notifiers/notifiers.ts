import { promises as fs } from 'node:fs'
import { dirname } from 'node:path'
import { AdapterError } from '../../core/errors.js'
import type { Notification, Notifier } from '../../core/rotation/ports.js'
import type { NotifyTarget } from '../../core/rotation/policy.js'

/**
 * Notifiers: a Slack-compatible incoming webhook (JSON `{text, blocks}`), and a log (JSON lines
 * appended to a file). Notifications carry masked values only (last 4 characters), and a
 * webhook URL (which holds a token) is never printed: errors name its host.
 */
export function slackPayload(n: Notification): { text: string; blocks: unknown[] } {
  const text = `*${n.title}*\n${n.lines.join('\n')}`
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: n.title } },
      { type: 'section', text: { type: 'mrkdwn', text: n.lines.join('\n') } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `rekey · ${n.kind} · ${n.secret}${n.run ? ` · ${n.run}` : ''} · ${n.at}` }] },
    ],
  }
}

export function createWebhookNotifier(url: string, o: { timeoutMs?: number; fetchImpl?: typeof fetch } = {}): Notifier {
  const doFetch = o.fetchImpl ?? fetch
  let host = 'webhook'
  try {
    host = new URL(url).host
  } catch {
    // reported on send
  }
  return {
    async send(n) {
      let lastErr = ''
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const res = await doFetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(slackPayload(n)),
            signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
          })
          await res.arrayBuffer().catch(() => undefined)
          if (res.ok) return
          lastErr = `HTTP ${res.status}`
          if (res.status < 500 && res.status !== 429) break
        } catch (e) {
          lastErr = (e as Error).name === 'TimeoutError' ? 'timed out' : 'connection failed'
        }
      }
      throw new AdapterError('webhook', 'notify', `${host}: ${lastErr}`, { retryable: true })
    },
  }
}

/** Appends each notification as one JSON line (mode 0600); `stderr` writes to the given sink. */
export function createLogNotifier(target: string, stderr?: { write(s: string): unknown }): Notifier {
  return {
    async send(n) {
      const line = JSON.stringify({ at: n.at, kind: n.kind, secret: n.secret, run: n.run ?? null, title: n.title, lines: n.lines }) + '\n'
      if (target === 'stderr' || target === '-') {
        stderr?.write(line)
        return
      }
      await fs.mkdir(dirname(target), { recursive: true, mode: 0o700 })
      await fs.appendFile(target, line, { mode: 0o600 })
    },
  }
}

/** Sends to every configured notifier (each filtered by its `events`); a failing one does not stop the others. */
export function createNotifiers(targets: NotifyTarget[], o: { resolvePath: (p: string) => string; stderr?: { write(s: string): unknown }; fetchImpl?: typeof fetch; onError?: (e: unknown) => void }): Notifier {
  const list = targets.map((t) => ({
    events: t.events,
    notifier: 'webhook' in t ? createWebhookNotifier(t.webhook, o.fetchImpl ? { fetchImpl: o.fetchImpl } : {}) : createLogNotifier(t.log === 'stderr' ? 'stderr' : o.resolvePath(t.log), o.stderr),
  }))
  return {
    async send(n) {
      const results = await Promise.allSettled(list.filter((l) => !l.events || l.events.includes(n.kind)).map((l) => l.notifier.send(n)))
      for (const r of results) if (r.status === 'rejected') o.onError?.(r.reason)
    },
  }
}

/** Collects notifications in memory (tests, --dry-run). */
export function createMemoryNotifier(): Notifier & { sent: Notification[] } {
  const sent: Notification[] = []
  return { sent, send: async (n) => void sent.push(n) }
}

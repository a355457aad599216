import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Notification } from '../../core/rotation/ports.js'
import { tempDir } from '../../../test/helpers/cli.js'
import { createLogNotifier, createNotifiers, createWebhookNotifier, type slackPayload } from './notifiers.js'

const n: Notification = { kind: 'succeeded', secret: 'STRIPE_API_KEY', title: 'Key rotation complete', lines: ['Old: …x7K2', 'New: …j9M1'], run: 'rot_0123456789abcdef', at: '2026-01-01T00:00:00.000Z', dedupeKey: 'succeeded:rot_0123456789abcdef' }

async function sink(status: number) {
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let b = ''
    req.on('data', (d: Buffer) => (b += d.toString()))
    req.on('end', () => {
      bodies.push(b)
      res.writeHead(status)
      res.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXXSECRETXXXX`, bodies, close: () => new Promise((r) => server.close(r)) }
}

describe('notifiers', () => {
  it('posts Slack-compatible JSON (text + blocks)', async () => {
    const s = await sink(200)
    try {
      await createWebhookNotifier(s.url).send(n)
      const body = JSON.parse(s.bodies[0]!) as ReturnType<typeof slackPayload>
      expect(body.text).toBe('*Key rotation complete*\nOld: …x7K2\nNew: …j9M1')
      expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Key rotation complete' } })
    } finally {
      await s.close()
    }
  })
  it('retries a 5xx once, then fails naming the host only (the URL holds a token)', async () => {
    const s = await sink(503)
    try {
      const err = await createWebhookNotifier(s.url).send(n).catch((e: Error) => e)
      expect(s.bodies).toHaveLength(2)
      expect((err as Error).message).toMatch(/^webhook notify: 127\.0\.0\.1:\d+: HTTP 503$/)
      expect((err as Error).message).not.toContain('XXXXSECRETXXXX')
    } finally {
      await s.close()
    }
  })
  it('log notifier appends JSON lines to a 0600 file; fan-out filters events and survives a failing target', async () => {
    const dir = tempDir()
    const path = join(dir, 'logs', 'notify.log')
    await createLogNotifier(path).send(n)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ kind: 'succeeded', secret: 'STRIPE_API_KEY', run: n.run })
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const errors: unknown[] = []
    const all = createNotifiers([{ webhook: 'http://127.0.0.1:1/hook' }, { log: 'only-failures.log', events: ['failed'] }, { log: 'all.log' }], { resolvePath: (p) => join(dir, p), onError: (e) => errors.push(e) })
    await all.send(n)
    expect(errors).toHaveLength(1)
    expect(readFileSync(join(dir, 'all.log'), 'utf8')).toContain('succeeded')
    expect(() => readFileSync(join(dir, 'only-failures.log'))).toThrow()
  })
})

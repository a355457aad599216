import { spawn } from 'node:child_process'
import type { CheckRunner } from '../../core/rotation/ports.js'

/**
 * Runs a policy's `verify` checks against a new value: an HTTP request whose headers may hold
 * `{{value}}`, or a command that gets the value in REKEY_VALUE. Reasons never contain the value.
 */
export function createCheckRunner(o: { cwd: string; env: Record<string, string | undefined>; fetchImpl?: typeof fetch }): CheckRunner {
  const doFetch = o.fetchImpl ?? fetch
  return {
    async run(check, value, { timeoutMs }) {
      if ('http' in check) {
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(check.http.headers ?? {})) headers[k] = v.replaceAll('{{value}}', value)
        try {
          const res = await doFetch(check.http.url, { method: check.http.method ?? 'GET', headers, signal: AbortSignal.timeout(timeoutMs) })
          await res.arrayBuffer().catch(() => undefined)
          const expect = check.http.expect ?? 200
          return res.status === expect ? { ok: true } : { ok: false, reason: `HTTP ${res.status} (expected ${expect})` }
        } catch (e) {
          return { ok: false, reason: (e as Error).name === 'TimeoutError' ? 'timed out' : 'connection failed' }
        }
      }
      if ('command' in check) {
        return runCommand(check.command, { cwd: o.cwd, env: { ...o.env, REKEY_VALUE: value }, timeoutMs })
      }
      return { ok: false, reason: 'the provider test is run by the engine' }
    },
  }
}

export function runCommand(command: string, o: { cwd: string; env: Record<string, string | undefined>; timeoutMs: number; input?: string }): Promise<{ ok: boolean; reason?: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'ignore'] })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 1_000_000) stdout += d.toString()
    })
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs)
    child.on('error', () => resolve({ ok: false, reason: 'could not start', stdout: '' }))
    child.on('close', (code, signal) => {
      clearTimeout(t)
      if (code === 0) resolve({ ok: true, stdout })
      else resolve({ ok: false, reason: signal ? `killed (${signal})` : `exit ${code}`, stdout })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(o.input ?? '')
  })
}

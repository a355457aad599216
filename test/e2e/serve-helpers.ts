import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { onTestFinished } from 'vitest'
import { freshSchema } from '../../src/adapters/postgres/test-schema.js'
import { DIST, spawnBin } from '../helpers/cli.js'
import { PG_URL } from '../helpers/services.js'

export const MASTER = 'e'.repeat(64)

/** A fresh migrated schema and the environment the bins need to use it. */
export async function pgEnv() {
  const s = await freshSchema(PG_URL)
  onTestFinished(() => s.drop())
  const env = { REKEY_DATABASE_URL: PG_URL, REKEY_DATABASE_SCHEMA: s.schema, REKEY_MASTER_KEY: MASTER, HOME: tmpdir() }
  return { ...s, env }
}

export async function cliToken(env: Record<string, string>, ...scopes: string[]): Promise<string> {
  const r = await spawnBin('rekey', ['tokens', 'create', '--name', 'e2e', ...scopes.flatMap((s) => ['--scope', s]), '--json'], { env })
  if (r.code !== 0) throw new Error(`tokens create failed: ${r.stderr}`)
  return (JSON.parse(r.stdout) as { token: string }).token
}

export interface ServeProcess {
  url: string
  child: ChildProcess
  logs: () => string
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>
  kill(): void
}

/** Spawns the built `rekey serve` on a free port and waits for its "listening" log line. */
export function spawnServe(env: Record<string, string>, args: string[] = []): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(DIST, 'cli', 'rekey.js'), 'serve', '--port', '0', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    let started = false
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    const t = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`rekey serve did not start: ${err}${out}`))
    }, 20_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (started) return
      for (const line of out.split('\n')) {
        if (!line.includes('rekey serve listening')) continue
        started = true
        clearTimeout(t)
        const url = (JSON.parse(line) as { url: string }).url
        const p: ServeProcess = {
          url,
          child,
          logs: () => out + err,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM')
            return exited
          },
          kill: () => void child.kill('SIGKILL'),
        }
        onTestFinished(async () => {
          if (child.exitCode === null) {
            child.kill('SIGKILL')
            await exited
          }
        })
        resolve(p)
      }
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => {
      if (!started) {
        clearTimeout(t)
        reject(new Error(`rekey serve exited ${code}: ${err}${out}`))
      }
    })
  })
}

export async function api(base: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> }
}

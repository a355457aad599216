import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { onTestFinished } from 'vitest'
import { run, type Root } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/context.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** A fresh private temp directory, removed when the test finishes. */
export function tempDir(prefix = 'rekey-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  onTestFinished(() => rmSync(d, { recursive: true, force: true }))
  return d
}

/** Runs the CLI in-process, capturing stdout and stderr. */
export async function runCli(root: Root, argv: string[], o: Partial<CliIO> & { input?: string } = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const io: CliIO = {
    cwd: o.cwd ?? process.cwd(),
    env: o.env ?? {},
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    stdin: o.stdin ?? (o.input !== undefined ? Readable.from([o.input]) : new PassThrough()),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.random ? { random: o.random } : {}),
  }
  const code = await run(root, argv, io)
  return { code, stdout, stderr }
}

export const DIST = resolve(import.meta.dirname, '../../dist')

/** Spawns a built bin (npm run build first) with a minimal environment. */
export function spawnBin(
  bin: 'rekey' | 'apiauth' | 'envault',
  args: string[],
  o: { cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolveP, reject) => {
    const child = spawn(process.execPath, [join(DIST, 'cli', `${bin}.js`), ...args], {
      cwd: o.cwd ?? process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: o.env?.HOME ?? tmpdir(), ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(t)
      resolveP({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    })
    child.stdin.end(o.input ?? '')
  })
}

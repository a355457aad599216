import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import type pg from 'pg'

/**
 * Whether a role's stored SCRAM-SHA-256 verifier matches a password. pg_hba on the test machines
 * is `trust` (any password connects), so tests check the verifier the way a password-checking
 * server would.
 */
export async function scramMatches(admin: pg.Client, role: string, password: string): Promise<boolean> {
  const r = await admin.query<{ p: string | null }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [role])
  const stored = r.rows[0]?.p
  const m = stored ? /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(stored) : null
  if (!m) return false
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), Number(m[1]), 32, 'sha256')
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('base64')
  return storedKey === m[3]
}

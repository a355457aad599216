import { AppError } from '../../core/errors.js'
import { open, seal } from '../../core/crypto/aead.js'
import { deriveKey, newKdfParams, type KdfParams, type MasterKeyMaterial } from '../../core/crypto/kdf.js'
import type { Random } from '../../core/ports.js'
import { inTx, lockId, notifyChange, pgError, schemaOf, type Pool } from './db.js'

/**
 * Envelope encryption for the PostgreSQL backend. Values are sealed in the application with a
 * random 256-bit data key; the data key is stored only wrapped (sealed) by the master key, which
 * never reaches the database. A dump of every table therefore reveals no secret.
 *
 * `rekey master rotate` re-wraps the data keys under a new master key in one transaction. The
 * values themselves are untouched, and running instances keep their unwrapped data keys in
 * memory, so nothing stops serving while it happens.
 */
export interface Keyring {
  /** The data key new values are sealed with. */
  activeId(): number
  seal(plaintext: string, aad: string): { dataKeyId: number; enc: Buffer }
  open(dataKeyId: number, enc: Buffer, aad: string, what: string): string
  /** Re-reads data keys (after another instance added one). */
  reload(): Promise<void>
}

const wrapAad = (id: number) => `rekey-pg|data-key|${id}`

interface DataKeyRow {
  id: number
  wrapped: Buffer
  kdf: KdfParams
  active: boolean
}

async function unwrap(row: DataKeyRow, material: MasterKeyMaterial): Promise<Buffer> {
  const k = await deriveKey(material, row.kdf)
  return open(k, row.wrapped, wrapAad(row.id), `data key ${row.id}`)
}

async function wrapNew(material: MasterKeyMaterial, random: Random, id: number, dataKey: Buffer): Promise<{ wrapped: Buffer; kdf: KdfParams }> {
  const kdf = newKdfParams(material, random.bytes(16))
  const k = await deriveKey(material, kdf)
  return { wrapped: seal(k, dataKey, wrapAad(id), random), kdf }
}

/** Loads (creating on first use) the data keys, unwrapped with the master key. */
export async function loadKeyring(pool: Pool, material: MasterKeyMaterial, random: Random): Promise<Keyring> {
  const schema = schemaOf(pool)
  const keys = new Map<number, Buffer>()
  let active = 0

  const load = async () => {
    const rows = (await pool.query<DataKeyRow>('SELECT id, wrapped, kdf, active FROM data_keys ORDER BY id')).rows
    for (const r of rows) {
      if (!keys.has(r.id)) {
        try {
          keys.set(r.id, await unwrap(r, material))
        } catch (e) {
          if (e instanceof AppError && e.code === 'DECRYPT_FAILED') {
            throw new AppError('DECRYPT_FAILED', `the master key from ${material.source} does not open the database's data key ${r.id}`, {
              hint: 'use the master key the database was set up with (or the new one after "rekey master rotate")',
            })
          }
          throw e
        }
      }
      if (r.active) active = r.id
    }
    return rows.length
  }

  try {
    if ((await load()) === 0) {
      await inTx(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(schema, 'data_keys')])
        const n = (await c.query<{ n: string }>('SELECT count(*) AS n FROM data_keys')).rows[0]?.n
        if (n !== '0') return
        const id = (await c.query<{ id: number }>("SELECT nextval(pg_get_serial_sequence('data_keys', 'id'))::int AS id")).rows[0]!.id
        const dk = random.bytes(32)
        const w = await wrapNew(material, random, id, dk)
        await c.query('INSERT INTO data_keys (id, wrapped, kdf, active) VALUES ($1, $2, $3, true)', [id, w.wrapped, JSON.stringify(w.kdf)])
      })
      await load()
    }
  } catch (e) {
    throw pgError('load data keys', e)
  }

  return {
    activeId: () => active,
    seal(plaintext, aad) {
      const k = keys.get(active)
      if (!k) throw new AppError('INTERNAL', 'no active data key')
      return { dataKeyId: active, enc: seal(k, Buffer.from(plaintext, 'utf8'), `${aad}|dk${active}`, random) }
    },
    open(dataKeyId, enc, aad, what) {
      const k = keys.get(dataKeyId)
      if (!k) throw new AppError('DECRYPT_FAILED', `${what} is sealed with data key ${dataKeyId}, which this instance does not hold`, { hint: 'restart the instance after adding a data key' })
      return open(k, enc, `${aad}|dk${dataKeyId}`, what).toString('utf8')
    },
    reload: async () => {
      await load()
    },
  }
}

export interface MasterRotateResult {
  rewrapped: number
}

/**
 * Re-wraps every data key under `next`, in one transaction (all or nothing). Values are not
 * touched and running instances keep serving with the data keys they already hold; instances
 * started afterwards need the new master key.
 */
export async function rotateMasterKey(pool: Pool, o: { current: MasterKeyMaterial; next: MasterKeyMaterial; random: Random }): Promise<MasterRotateResult> {
  const schema = schemaOf(pool)
  try {
    return await inTx(pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [lockId(schema, 'data_keys')])
      const rows = (await c.query<DataKeyRow>('SELECT id, wrapped, kdf, active FROM data_keys ORDER BY id FOR UPDATE')).rows
      if (rows.length === 0) throw new AppError('NOT_FOUND', 'the database has no data key yet: nothing to re-wrap', { hint: 'run "rekey db migrate" and store something first' })
      for (const r of rows) {
        let dk: Buffer
        try {
          dk = await unwrap(r, o.current)
        } catch (e) {
          if (e instanceof AppError && e.code === 'DECRYPT_FAILED') {
            throw new AppError('DECRYPT_FAILED', `the current master key (from ${o.current.source}) does not open data key ${r.id}; nothing was changed`)
          }
          throw e
        }
        const w = await wrapNew(o.next, o.random, r.id, dk)
        await c.query('UPDATE data_keys SET wrapped = $2, kdf = $3, rewrapped_at = now() WHERE id = $1', [r.id, w.wrapped, JSON.stringify(w.kdf)])
      }
      await notifyChange(c, schema, { kind: 'datakey', id: 'rewrap' })
      return { rewrapped: rows.length }
    })
  } catch (e) {
    throw pgError('rotate master key', e)
  }
}

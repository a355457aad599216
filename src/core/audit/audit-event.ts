/** One audit record. Detail values are masked before they get here (see `last4`). */
export interface AuditEvent {
  seq: number
  id: string // evt_<hex>
  ts: string // ISO 8601
  actor: string
  action: string // resource.verb, e.g. api_key.rotate
  target: string
  env?: string
  status: 'ok' | 'failed'
  detail: Record<string, string | number | boolean | null>
  prev: string // hash of the previous event, or 64 zeros
  hash: string // sha256 over the canonical form of every other field
}

export type AuditEventInput = Omit<AuditEvent, 'seq' | 'id' | 'ts' | 'prev' | 'hash' | 'status' | 'detail' | 'actor'> & {
  status?: 'ok' | 'failed'
  detail?: AuditEvent['detail']
  actor?: string
}

export interface AuditQuery {
  since?: Date
  action?: string // substring match on the action, case-insensitive
  env?: string
  target?: string
}

/** The audit log port: append-only, hash-chained. */
export interface AuditLog {
  /** Appends one event; throws AUDIT_WRITE_FAILED if it cannot be durably written. */
  append(e: AuditEventInput): Promise<AuditEvent>
  read(q?: AuditQuery): Promise<AuditEvent[]>
  verify(): Promise<AuditVerifyResult>
}

export type AuditVerifyResult =
  | { ok: true; count: number }
  | { ok: false; count: number; brokenAt: number; reason: string }

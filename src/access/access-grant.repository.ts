import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { ActiveAccessSource, type ActiveAccess } from '../policy/active-access.port.js';

/** A grant or break-the-glass as the access workflow sees it (the entity stays in this feature). */
export interface AccessGrant {
  id: string;
  kind: 'grant' | 'break-glass';
  grantee: string;
  patientId: string;
  purpose: string;
  reason: string;
  status: 'requested' | 'approved' | 'refused' | 'active';
  requestedBy: string;
  requestedUntil: string;
  validFrom: string | null;
  validUntil: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  extensionUntil: string | null;
  extensionReason: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  reviewNote: string | null;
  uses: number;
  createdAt: string;
  policyVersion: string;
}


const COLUMNS = `id, kind, grantee, patient_id AS "patientId", purpose, reason, status, requested_by AS "requestedBy",
  requested_until AS "requestedUntil", valid_from AS "validFrom", valid_until AS "validUntil", decided_by AS "decidedBy",
  decided_at AS "decidedAt", decision_note AS "decisionNote", extension_until AS "extensionUntil",
  extension_reason AS "extensionReason", reviewed_by AS "reviewedBy", reviewed_at AS "reviewedAt",
  review_note AS "reviewNote", uses, created_at AS "createdAt", policy_version AS "policyVersion"`;

/** The only place that touches `access_grant`. Times are compared with the caller's clock. */
@Injectable()
export class AccessGrantRepository extends ActiveAccessSource {
  constructor(private readonly db: ChartWardenDatabase) {
    super();
  }

  async insert(g: Omit<AccessGrant, 'decidedBy' | 'decidedAt' | 'decisionNote' | 'extensionUntil' | 'extensionReason' | 'reviewedBy' | 'reviewedAt' | 'reviewNote' | 'uses'>): Promise<AccessGrant> {
    const rows = await this.db.query<AccessGrant>(
      `INSERT INTO access_grant (id, kind, grantee, patient_id, purpose, reason, status, requested_by, requested_until, valid_from, valid_until, created_at, policy_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
      [g.id, g.kind, g.grantee, g.patientId, g.purpose, g.reason, g.status, g.requestedBy, g.requestedUntil, g.validFrom, g.validUntil, g.createdAt, g.policyVersion],
    );
    return normalize(rows[0]);
  }

  async get(id: string): Promise<AccessGrant | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows = await this.db.query<AccessGrant>(`SELECT ${COLUMNS} FROM access_grant WHERE id = $1`, [id]);
    return rows[0] ? normalize(rows[0]) : undefined;
  }

  /**
   * Applies `changes` only if the row is still in `expectedStatus` (no double approval when
   * two officers click at once); undefined when it was not.
   */
  async transition(id: string, expectedStatus: string[], changes: Partial<Record<'status' | 'validFrom' | 'validUntil' | 'decidedBy' | 'decidedAt' | 'decisionNote' | 'extensionUntil' | 'extensionReason' | 'reviewedBy' | 'reviewedAt' | 'reviewNote', string | null>>, guard?: 'extension-pending' | 'no-extension' | 'unreviewed'): Promise<AccessGrant | undefined> {
    const columns: Record<string, string> = {
      status: 'status', validFrom: 'valid_from', validUntil: 'valid_until', decidedBy: 'decided_by', decidedAt: 'decided_at',
      decisionNote: 'decision_note', extensionUntil: 'extension_until', extensionReason: 'extension_reason',
      reviewedBy: 'reviewed_by', reviewedAt: 'reviewed_at', reviewNote: 'review_note',
    };
    const entries = Object.entries(changes);
    const sets = entries.map(([k], i) => `${columns[k]} = $${i + 3}`);
    const rows = await this.db.query<AccessGrant>(
      `UPDATE access_grant SET ${sets.join(', ')} WHERE id = $1 AND status = ANY($2::text[])
       ${GUARDS[guard ?? 'none']}
       RETURNING ${COLUMNS}`,
      [id, expectedStatus, ...entries.map(([, v]) => v)],
    );
    return rows[0] ? normalize(rows[0]) : undefined;
  }

  async list(filter: { kind: 'grant' | 'break-glass'; grantee?: string; patientId?: string; unreviewed?: boolean }): Promise<AccessGrant[]> {
    const rows = await this.db.query<AccessGrant>(
      `SELECT ${COLUMNS} FROM access_grant WHERE kind = $1 AND ($2::text IS NULL OR grantee = $2) AND ($3::text IS NULL OR patient_id = $3)
       AND ($4::boolean IS NOT TRUE OR reviewed_at IS NULL) ORDER BY created_at DESC LIMIT 500`,
      [filter.kind, filter.grantee ?? null, filter.patientId ?? null, filter.unreviewed ?? null],
    );
    return rows.map(normalize);
  }

  /** Approved grants and break-the-glass openings of `grantee` that have not ended at `now`. */
  async activeFor(grantee: string, now: Date): Promise<ActiveAccess> {
    const rows = await this.db.query<{ id: string; kind: string; patientId: string; until: Date }>(
      `SELECT id, kind, patient_id AS "patientId", valid_until AS until FROM access_grant
       WHERE grantee = $1 AND status IN ('approved', 'active') AND valid_from <= $2 AND valid_until > $2`,
      [grantee, now],
      { prepare: true },
    );
    return {
      grants: rows.filter((r) => r.kind === 'grant').map((r) => ({ id: r.id, patientId: r.patientId, until: new Date(r.until) })),
      breakGlass: rows.filter((r) => r.kind === 'break-glass').map((r) => ({ id: r.id, patientId: r.patientId, until: new Date(r.until) })),
    };
  }

  /** Break-the-glass openings in force at `now`: a count for the metrics, nothing else. */
  async countActiveBreakGlass(now: Date): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM access_grant WHERE kind = 'break-glass' AND status IN ('approved', 'active') AND valid_from <= $1 AND valid_until > $1`,
      [now],
    );
    return row.n;
  }

  async countUse(id: string): Promise<void> {
    await this.db.query('UPDATE access_grant SET uses = uses + 1 WHERE id = $1', [id]);
  }
}

const GUARDS = {
  none: '',
  'extension-pending': 'AND extension_until IS NOT NULL',
  'no-extension': 'AND extension_until IS NULL',
  unreviewed: 'AND reviewed_at IS NULL',
};

function normalize(g: AccessGrant): AccessGrant {
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
  return {
    ...g,
    requestedUntil: iso(g.requestedUntil) as string,
    validFrom: iso(g.validFrom),
    validUntil: iso(g.validUntil),
    decidedAt: iso(g.decidedAt),
    extensionUntil: iso(g.extensionUntil),
    reviewedAt: iso(g.reviewedAt),
    createdAt: iso(g.createdAt) as string,
  };
}

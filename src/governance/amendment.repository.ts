import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { RecordRef } from '../store/patient-record-index.port.js';

/** A row of `amendment`. */
export interface AmendmentRow {
  id: string;
  resource_type: string;
  resource_id: string;
  requested_by: string;
  reason: string;
  status: 'requested' | 'approved' | 'refused' | 'used';
  requested_at: Date;
  decided_by: string | null;
  decided_roles: string | null;
  decided_at: Date | null;
  decision_note: string | null;
  valid_until: Date | null;
  used_version: number | null;
}

/** A decision on a requested amendment. */
export interface AmendmentDecision {
  approve: boolean;
  decidedBy: string;
  decidedRoles: readonly string[];
  at: Date;
  note?: string;
  validUntil?: Date;
}

/**
 * Formal amendments' table (`amendment`, R-11, R-15): requests, decisions and the one-time
 * permits writes use up. Rows are never deleted (a trigger refuses it).
 */
@Injectable()
export class AmendmentRepository {
  constructor(private readonly db: ChartWardenDatabase) {}

  async insert(a: { id: string; document: RecordRef; requestedBy: string; reason: string; at: Date; policyVersion: string }): Promise<AmendmentRow> {
    const [row] = await this.db.query<AmendmentRow>(
      `INSERT INTO amendment (id, resource_type, resource_id, requested_by, reason, status, requested_at, policy_version)
       VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7) RETURNING *`,
      [a.id, a.document.type, a.document.id, a.requestedBy, a.reason, a.at, a.policyVersion],
    );
    return row;
  }

  async get(id: string): Promise<AmendmentRow | undefined> {
    const [row] = await this.db.query<AmendmentRow>('SELECT * FROM amendment WHERE id = $1', [id]);
    return row;
  }

  /** Decides a request still waiting for one; undefined when it is not (any more). */
  async decide(id: string, d: AmendmentDecision): Promise<AmendmentRow | undefined> {
    const [row] = await this.db.query<AmendmentRow>(
      `UPDATE amendment SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5, valid_until = $6, decided_roles = $7
        WHERE id = $1 AND status = 'requested' RETURNING *`,
      [id, d.approve ? 'approved' : 'refused', d.decidedBy, d.at, d.note || null, d.validUntil ?? null, d.decidedRoles.join(',')],
    );
    return row;
  }

  /** By status when given, of one requester when given; oldest request first, at most 500. */
  async list(status: string | undefined, requestedBy: string | undefined): Promise<AmendmentRow[]> {
    return this.db.query<AmendmentRow>(
      `SELECT * FROM amendment WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR requested_by = $2) ORDER BY requested_at LIMIT 500`,
      [status ?? null, requestedBy ?? null],
    );
  }

  /**
   * The requester's approved permit for this document, valid at `now` (approved by `approverRole`
   * when given), locked `FOR UPDATE` in the write's unit of work until it is used up or the write
   * rolls back: two writes cannot use one permit.
   */
  async lockPermit(unit: UnitOfWork, document: RecordRef, requestedBy: string, now: Date, approverRole?: string): Promise<AmendmentRow | undefined> {
    const [row] = await sqlOf(unit).query<AmendmentRow>(
      `SELECT * FROM amendment WHERE resource_type = $1 AND resource_id = $2 AND requested_by = $3 AND status = 'approved' AND valid_until > $4
          AND ($5::text IS NULL OR $5 = ANY(string_to_array(decided_roles, ',')))
        ORDER BY decided_at LIMIT 1 FOR UPDATE`,
      [document.type, document.id, requestedBy, now, approverRole ?? null],
    );
    return row;
  }

  /** Marks a permit used by `version` of its document. */
  async markUsed(unit: UnitOfWork, id: string, version: number): Promise<void> {
    await sqlOf(unit).query(`UPDATE amendment SET status = 'used', used_version = $2 WHERE id = $1`, [id, version]);
  }
}

import { Injectable } from '@nestjs/common';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { LeftOut, ManifestLine } from './domain/copy-production.js';
import type { CopyEvent, CopyRequestRecord, CopyRequestStatus, CopyScope, Requester } from './domain/copy-request.js';
import type { RequesterType } from '../policy/domain/copy-checklists.js';

interface RequestRow {
  id: string;
  patient_id: string;
  requester_type: RequesterType;
  requester: Requester;
  purpose: string;
  scope: CopyScope;
  status: CopyRequestStatus;
  received_by: string;
  received_at: Date;
  closed_at: Date | null;
  events: CopyEvent[];
}

/** A request as received, before its first step is stored. */
export interface NewCopyRequest extends Omit<CopyRequestRecord, 'status' | 'closedAt'> {
  policyVersion: string;
}

/** A presented document as kept: the file, its SHA-256 and what it proves. */
export interface EvidenceRecord {
  id: string;
  proves: string;
  filename: string | null;
  contentType: string;
  size: number;
  sha256: string;
  uploadedAt: Date;
}

/** A production without its files: what it holds, what it left out, its hashes and page count. */
export interface ProductionRecord {
  copyNo: number;
  createdAt: Date;
  createdBy: string;
  manifest: ManifestLine[];
  pending: LeftOut[];
  excluded: LeftOut[];
  bundleSha256: string;
  pdfSha256: string;
  pages: number;
}

/** A production as it is stored, files included. */
export interface NewProduction extends ProductionRecord {
  bundle: string;
  pdf: Buffer;
}

/** A copy exactly as produced: the certified PDF and the electronic Bundle, with their hashes. */
export interface StoredCopy {
  pdf: Buffer;
  bundle: string;
  pdfSha256: string;
  bundleSha256: string;
}

/**
 * The record room's tables (`copy_request`, `copy_evidence`, `copy_production`): the only SQL
 * of release (docs/decisions/0013). Every method runs in `unit` when given, on the pool
 * otherwise; none decides anything.
 */
@Injectable()
export class CopyRequestsRepository {
  constructor(private readonly db: ChartWardenDatabase) {}

  /** Stores a request as received (status `received`), with the policy version it was received under. */
  async insert(request: NewCopyRequest): Promise<void> {
    await this.db.query(
      `INSERT INTO copy_request (id, patient_id, requester_type, requester, purpose, scope, status, received_by, received_at, events, policy_version)
       VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10)`,
      [
        request.id,
        request.patient,
        request.requesterType,
        JSON.stringify(request.requester),
        request.purpose,
        JSON.stringify(request.scope),
        request.receivedBy,
        request.receivedAt,
        JSON.stringify(request.events),
        request.policyVersion,
      ],
    );
  }

  /** The request, or undefined (an id that is not a UUID names none). */
  async find(id: string, unit?: UnitOfWork): Promise<CopyRequestRecord | undefined> {
    const [row] = await sqlOf(unit, this.db).query<RequestRow>(`SELECT * FROM copy_request WHERE id = $1`, [uuidOr(id)]);
    return row && recordOf(row);
  }

  /** The request locked for one step (`FOR UPDATE`) in `unit`: concurrent steps on it wait. */
  async lock(id: string, unit: UnitOfWork): Promise<CopyRequestRecord | undefined> {
    const [row] = await sqlOf(unit).query<RequestRow>(`SELECT * FROM copy_request WHERE id = $1 FOR UPDATE`, [uuidOr(id)]);
    return row && recordOf(row);
  }

  /** Moves the request to `status`; with `closedAt`, sets when it closed too (null: it stays open). */
  async setStatus(id: string, status: CopyRequestStatus, unit: UnitOfWork, closedAt?: Date | null): Promise<void> {
    if (closedAt === undefined) await sqlOf(unit).query(`UPDATE copy_request SET status = $2 WHERE id = $1`, [id, status]);
    else await sqlOf(unit).query(`UPDATE copy_request SET status = $2, closed_at = $3 WHERE id = $1`, [id, status, closedAt]);
  }

  /** Appends one step to the request's life. */
  async appendEvent(id: string, event: CopyEvent, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(`UPDATE copy_request SET events = events || $2::jsonb WHERE id = $1`, [id, JSON.stringify([event])]);
  }

  /** The queue: ids by status and patient when given, oldest first, at most 200. */
  async queue(status: string | undefined, patient: string | undefined): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM copy_request WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR patient_id = $2) ORDER BY received_at LIMIT 200`,
      [status ?? null, patient ?? null],
    );
    return rows.map((r) => r.id);
  }

  /** Keeps a presented document, its file included (append-only). */
  async insertEvidence(requestId: string, e: EvidenceRecord & { content: Buffer; uploadedBy: string }, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO copy_evidence (id, request_id, proves, filename, content_type, size, sha256, content, uploaded_by, uploaded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [e.id, requestId, e.proves, e.filename, e.contentType, e.size, e.sha256, e.content, e.uploadedBy, e.uploadedAt],
    );
  }

  /** The request's evidence, in upload order (files left out). */
  evidenceOf(requestId: string): Promise<EvidenceRecord[]> {
    return this.db.query<EvidenceRecord>(
      `SELECT id, proves, filename, content_type AS "contentType", size, sha256, uploaded_at AS "uploadedAt" FROM copy_evidence
        WHERE request_id = $1 ORDER BY uploaded_at, id`,
      [requestId],
    );
  }

  /** `Type/id` of every document the request's copies hold. */
  async producedRefs(requestId: string, unit: UnitOfWork): Promise<Set<string>> {
    const rows = await sqlOf(unit).query<{ ref: string }>(
      `SELECT m ->> 'type' || '/' || (m ->> 'id') AS ref FROM copy_production p, jsonb_array_elements(p.manifest) m WHERE p.request_id = $1`,
      [requestId],
    );
    return new Set(rows.map((r) => r.ref));
  }

  /** The number the request's next copy takes (1, 2, …). */
  async nextCopyNo(requestId: string, unit: UnitOfWork): Promise<number> {
    const [{ next }] = await sqlOf(unit).query<{ next: number }>(
      `SELECT coalesce(max(copy_no), 0)::int + 1 AS next FROM copy_production WHERE request_id = $1`,
      [requestId],
    );
    return next;
  }

  /** Stores a production with its two files (append-only: what was handed out can be shown again, byte for byte). */
  async insertProduction(requestId: string, p: NewProduction, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO copy_production (request_id, copy_no, created_at, created_by, manifest, pending, excluded, bundle, bundle_sha256, pdf, pdf_sha256, pages)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        requestId,
        p.copyNo,
        p.createdAt,
        p.createdBy,
        JSON.stringify(p.manifest),
        JSON.stringify(p.pending),
        JSON.stringify(p.excluded),
        p.bundle,
        p.bundleSha256,
        p.pdf,
        p.pdfSha256,
        p.pages,
      ],
    );
  }

  /** The request's productions in copy order, without their files. */
  productionsOf(requestId: string, unit?: UnitOfWork): Promise<ProductionRecord[]> {
    return sqlOf(unit, this.db).query<ProductionRecord>(
      `SELECT copy_no AS "copyNo", created_at AS "createdAt", created_by AS "createdBy", manifest, pending, excluded,
              bundle_sha256 AS "bundleSha256", pdf_sha256 AS "pdfSha256", pages
         FROM copy_production WHERE request_id = $1 ORDER BY copy_no`,
      [requestId],
    );
  }

  /** Copy `copyNo` of the request exactly as produced, or undefined. */
  async storedCopy(requestId: string, copyNo: number): Promise<StoredCopy | undefined> {
    const [copy] = await this.db.query<StoredCopy>(
      `SELECT pdf, bundle, pdf_sha256 AS "pdfSha256", bundle_sha256 AS "bundleSha256" FROM copy_production WHERE request_id = $1 AND copy_no = $2`,
      [requestId, copyNo],
    );
    return copy;
  }

  /** The manifest lines of the given copies of a request, in copy and manifest order. */
  manifestOf(requestId: string, copyNos: readonly number[], unit?: UnitOfWork): Promise<(ManifestLine & { copyNo: number })[]> {
    return sqlOf(unit, this.db).query<ManifestLine & { copyNo: number }>(
      `SELECT p.copy_no AS "copyNo", m.type, m.id, m.version, m.sha256, m."documentType" FROM copy_production p
         CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(p.manifest) AS (type text, id text, version int, sha256 text, "documentType" text))
                            WITH ORDINALITY AS m(type, id, version, sha256, "documentType", n)
        WHERE p.request_id = $1 AND p.copy_no = ANY($2::int[]) ORDER BY p.copy_no, m.n`,
      [requestId, copyNos],
    );
  }
}

function recordOf(r: RequestRow): CopyRequestRecord {
  return {
    id: r.id,
    patient: r.patient_id,
    requesterType: r.requester_type,
    requester: r.requester,
    purpose: r.purpose,
    scope: r.scope,
    status: r.status,
    receivedBy: r.received_by,
    receivedAt: r.received_at,
    closedAt: r.closed_at,
    events: r.events,
  };
}

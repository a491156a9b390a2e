import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ClusterEvents, type Announcement } from '../cluster/cluster-events.js';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { DisputeScope, DisputeStatus, DisputeTrigger, InventoryLine } from './domain/dispute-case.js';
import type {
  Confirmation,
  ConfirmationKind,
  ConfirmationStep,
  DisputeCase,
  InventoryItem,
  NewSealedCopy,
  SealedCopyFiles,
  SealedCopySummary,
  SealWitnesses,
  Unsealing,
} from './domain/dispute-records.js';

/** A row of `dispute`. */
interface CaseRow {
  id: string;
  patient_id: string;
  scope: DisputeScope;
  trigger: DisputeTrigger;
  reason: string;
  team: string[];
  status: DisputeStatus;
  opened_by: string;
  opened_at: Date;
  sealed_at: Date | null;
  sealed_by: string | null;
  unsealed_at: Date | null;
  unsealing: Unsealing | null;
}

/** A row of `dispute_item`: one inventory line. */
interface ItemRow {
  resource_type: string;
  resource_id: string;
  version_id: number;
  status: 'sealed' | 'pending';
  sha256: string | null;
  copy_no: number | null;
}

/** A row of `dispute_copy` without its files. */
interface CopyRow {
  copy_no: number;
  kind: 'seal' | 'supplement';
  created_at: Date;
  created_by: string;
  witnesses: SealWitnesses;
  inventory_sha256: string;
  bundle_sha256: string;
  pdf_sha256: string;
  pages: number;
}

/** A row of `dispute_confirmation`. */
interface ConfirmationRow {
  id: string;
  dispute_id: string;
  step: ConfirmationStep;
  kind: ConfirmationKind;
  actor_id: string;
  practitioner: string;
  roles: string[];
  inventory_digest: string | null;
  basis: 'resolved' | 'no-claim' | null;
  reason: string | null;
  confirmed_at: Date;
}

/** Which confirmations a step may use: of this case, step and kind, given since `since` and `freshFrom`, not by `notBy`. */
export interface ConfirmationQuery {
  dispute: string;
  step: ConfirmationStep;
  kind: ConfirmationKind;
  since: Date;
  freshFrom: Date;
  notBy: string;
}

/** The records of one sealed public-incident case, withheld from all but its team. */
export interface WithheldCase {
  caseId: string;
  team: string[];
  records: Map<string, string[]>;
}

const ITEM_COLUMNS = 'resource_type, resource_id, version_id, status, sha256, copy_no';
const COPY_COLUMNS = 'copy_no, kind, created_at, created_by, witnesses, inventory_sha256, bundle_sha256, pdf_sha256, pages';

/**
 * The disputes' own tables (`dispute`, `dispute_item`, `dispute_copy`, `dispute_confirmation`):
 * the only code that reads or writes them, in a step's unit of work when given one, else on the
 * pool. Case ids from a request are UUIDs or name nothing (`uuidOr`). The holds a write checks
 * are read by `HoldsRepository`.
 */
@Injectable()
export class DisputesRepository {
  constructor(
    // Any connection: the pool in the app, one transaction's client in `seal verify`.
    @Inject(ChartWardenDatabase) private readonly db: Queryable,
    @Optional() private readonly cluster?: ClusterEvents,
  ) {}

  async find(id: string, unit?: UnitOfWork): Promise<DisputeCase | undefined> {
    const [row] = await this.sql(unit).query<CaseRow>(`SELECT * FROM dispute WHERE id = $1`, [uuidOr(id)]);
    return row && caseOf(row);
  }

  /** A case with its inventory counts and sealed copies: what its view shows. */
  async overview(id: string): Promise<{ dispute: DisputeCase; inventory: { sealed: number; pending: number }; copies: SealedCopySummary[] } | undefined> {
    const dispute = await this.find(id);
    return dispute && { dispute, inventory: await this.itemCounts(dispute.id), copies: await this.copies(dispute.id) };
  }

  /** Newest first, at most `limit`. */
  async list(filter: { patient?: string; status?: string }, limit: number): Promise<DisputeCase[]> {
    const rows = await this.db.query<CaseRow>(
      `SELECT * FROM dispute WHERE ($1::text IS NULL OR patient_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY opened_at DESC LIMIT $3`,
      [filter.patient ?? null, filter.status ?? null, limit],
    );
    return rows.map(caseOf);
  }

  async open(c: DisputeCase, policyVersion: string, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO dispute (id, patient_id, scope, trigger, reason, team, status, opened_by, opened_at, policy_version)
       VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)`,
      [c.id, c.patient, JSON.stringify(c.scope), c.trigger, c.reason, JSON.stringify(c.team), c.openedBy, c.openedAt, policyVersion],
    );
  }

  /** The case's status, its row locked until the unit ends: no other step on the case in between. */
  async lockStatus(id: string, unit: UnitOfWork): Promise<DisputeStatus | undefined> {
    const [row] = await sqlOf(unit).query<{ status: DisputeStatus }>(`SELECT status FROM dispute WHERE id = $1 FOR UPDATE`, [uuidOr(id)]);
    return row?.status;
  }

  async markSealed(id: string, at: Date, by: string, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(`UPDATE dispute SET status = 'sealed', sealed_at = $2, sealed_by = $3 WHERE id = $1`, [id, at, by]);
  }

  /** Unseals a sealed case; false when it is no longer sealed. */
  async markUnsealed(id: string, at: Date, unsealing: Unsealing, unit: UnitOfWork): Promise<boolean> {
    const done = await sqlOf(unit).query<{ id: string }>(
      `UPDATE dispute SET status = 'unsealed', unsealed_at = $2, unsealing = $3 WHERE id = $1 AND status = 'sealed' RETURNING id`,
      [id, at, JSON.stringify(unsealing)],
    );
    return done.length > 0;
  }

  /** The case's inventory, ordered by type and id. */
  async items(id: string, unit?: UnitOfWork): Promise<InventoryItem[]> {
    const rows = await this.sql(unit).query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM dispute_item WHERE dispute_id = $1 ORDER BY resource_type, resource_id`, [uuidOr(id)]);
    return rows.map(itemOf);
  }

  async itemCounts(id: string): Promise<{ sealed: number; pending: number }> {
    const [counts] = await this.db.query<{ sealed: number; pending: number }>(
      `SELECT count(*) FILTER (WHERE status = 'sealed')::int AS sealed, count(*) FILTER (WHERE status = 'pending')::int AS pending FROM dispute_item WHERE dispute_id = $1`,
      [uuidOr(id)],
    );
    return counts;
  }

  /** A new inventory line, sealed by copy `copyNo` or pending. */
  async addItem(id: string, line: InventoryLine, copyNo: number | undefined, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO dispute_item (dispute_id, resource_type, resource_id, version_id, status, sha256, copy_no) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, line.type, line.id, line.version, line.status, line.sha256 ?? null, line.sha256 ? (copyNo ?? null) : null],
    );
  }

  /** A pending line sealed, at the version completed, by copy `copyNo`. */
  async sealItem(id: string, line: InventoryLine, copyNo: number, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `UPDATE dispute_item SET status = 'sealed', version_id = $4, sha256 = $5, copy_no = $6 WHERE dispute_id = $1 AND resource_type = $2 AND resource_id = $3`,
      [id, line.type, line.id, line.version, line.sha256, copyNo],
    );
  }

  /** The versions a sealed copy holds, ordered by type and id. */
  async versionsInCopy(id: string, n: number): Promise<{ type: string; id: string; version: string }[]> {
    const rows = await this.db.query<{ resource_type: string; resource_id: string; version_id: string }>(
      `SELECT resource_type, resource_id, version_id::text AS version_id FROM dispute_item WHERE dispute_id = $1 AND copy_no = $2 ORDER BY resource_type, resource_id`,
      [uuidOr(id), n],
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.resource_id, version: r.version_id }));
  }

  async nextCopyNo(id: string, unit: UnitOfWork): Promise<number> {
    const [{ n }] = await sqlOf(unit).query<{ n: number }>(`SELECT coalesce(max(copy_no), 0)::int + 1 AS n FROM dispute_copy WHERE dispute_id = $1`, [id]);
    return n;
  }

  async addCopy(id: string, copy: NewSealedCopy, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO dispute_copy (dispute_id, copy_no, kind, created_at, created_by, witnesses, inventory_sha256, bundle, bundle_sha256, pdf, pdf_sha256, pages, record_pages)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        id,
        copy.n,
        copy.kind,
        copy.createdAt,
        copy.createdBy,
        JSON.stringify(copy.witnesses),
        copy.inventorySha256,
        copy.bundle,
        copy.bundleSha256,
        copy.pdf,
        copy.pdfSha256,
        copy.pages,
        JSON.stringify(copy.recordPages),
      ],
    );
  }

  /**
   * Per sealed copy (by number), the pages each record it seals occupies in its PDF (页数), keyed
   * `Type/id`; copies sealed before the pages were kept are absent.
   */
  async recordPages(id: string): Promise<Map<number, Record<string, number>>> {
    const rows = await this.db.query<{ copy_no: number; record_pages: Record<string, number> }>(
      `SELECT copy_no, record_pages FROM dispute_copy WHERE dispute_id = $1 AND record_pages IS NOT NULL`,
      [uuidOr(id)],
    );
    return new Map(rows.map((r) => [r.copy_no, r.record_pages]));
  }

  /** The case's sealed copies, in order, without their files. */
  async copies(id: string): Promise<SealedCopySummary[]> {
    const rows = await this.db.query<CopyRow>(`SELECT ${COPY_COLUMNS} FROM dispute_copy WHERE dispute_id = $1 ORDER BY copy_no`, [uuidOr(id)]);
    return rows.map(copyOf);
  }

  /** One sealed copy's files, exactly as sealed. */
  async copyFiles(id: string, n: number): Promise<SealedCopyFiles | undefined> {
    const [row] = await this.db.query<{ pdf: Buffer; bundle: string; pdf_sha256: string; bundle_sha256: string }>(
      `SELECT pdf, bundle, pdf_sha256, bundle_sha256 FROM dispute_copy WHERE dispute_id = $1 AND copy_no = $2`,
      [uuidOr(id), n],
    );
    return row && { bundle: row.bundle, bundleSha256: row.bundle_sha256, pdf: row.pdf, pdfSha256: row.pdf_sha256 };
  }

  /** Every sealed copy with its files and inventory digest, in order (`seal verify`). */
  async copiesWithFiles(id: string): Promise<(SealedCopyFiles & { n: number; inventorySha256: string })[]> {
    const rows = await this.db.query<{ copy_no: number; bundle: string; bundle_sha256: string; pdf: Buffer; pdf_sha256: string; inventory_sha256: string }>(
      `SELECT copy_no, bundle, bundle_sha256, pdf, pdf_sha256, inventory_sha256 FROM dispute_copy WHERE dispute_id = $1 ORDER BY copy_no`,
      [uuidOr(id)],
    );
    return rows.map((r) => ({ n: r.copy_no, bundle: r.bundle, bundleSha256: r.bundle_sha256, pdf: r.pdf, pdfSha256: r.pdf_sha256, inventorySha256: r.inventory_sha256 }));
  }

  /** A case's confirmations for a step, of every kind and by anyone, given since `since` and `freshFrom`, newest first (what is still usable, R-40, R-43). */
  async openConfirmations(q: Omit<ConfirmationQuery, 'kind' | 'notBy'>): Promise<Confirmation[]> {
    const rows = await this.db.query<ConfirmationRow>(
      `SELECT * FROM dispute_confirmation WHERE dispute_id = $1 AND step = $2 AND confirmed_at >= $3 AND confirmed_at >= $4
        ORDER BY confirmed_at DESC, id`,
      [q.dispute, q.step, q.since, q.freshFrom],
    );
    return rows.map(confirmationOf);
  }

  /** Records a confirmation given now, as stored. */
  async addConfirmation(c: Omit<Confirmation, 'id'>, unit: UnitOfWork): Promise<Confirmation> {
    const [row] = await sqlOf(unit).query<ConfirmationRow>(
      `INSERT INTO dispute_confirmation (id, dispute_id, step, kind, actor_id, practitioner, roles, inventory_digest, basis, reason, confirmed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [randomUUID(), c.dispute, c.step, c.kind, c.by.id, c.by.practitioner, JSON.stringify(c.by.roles), c.inventoryDigest ?? null, c.basis ?? null, c.reason ?? null, c.confirmedAt],
    );
    return confirmationOf(row);
  }

  /** The confirmations a step may choose from, newest first. */
  async confirmations(q: ConfirmationQuery): Promise<Confirmation[]> {
    const rows = await this.db.query<ConfirmationRow>(
      `SELECT * FROM dispute_confirmation WHERE dispute_id = $1 AND step = $2 AND kind = $3 AND confirmed_at >= $4 AND confirmed_at >= $5 AND actor_id <> $6
        ORDER BY confirmed_at DESC`,
      [q.dispute, q.step, q.kind, q.since, q.freshFrom, q.notBy],
    );
    return rows.map(confirmationOf);
  }

  /** Every sealed public incident's withheld records, per type. */
  async withheld(): Promise<WithheldCase[]> {
    const rows = await this.db.query<{ id: string; team: string[]; resource_type: string; ids: string[] }>(
      `SELECT d.id, d.team, i.resource_type, array_agg(i.resource_id ORDER BY i.resource_id) AS ids
         FROM dispute d JOIN dispute_item i ON i.dispute_id = d.id
        WHERE d.status = 'sealed' AND d.trigger = 'public-incident'
        GROUP BY d.id, d.team, i.resource_type`,
    );
    const byCase = new Map<string, WithheldCase>();
    for (const r of rows) {
      const c = byCase.get(r.id) ?? { caseId: r.id, team: r.team, records: new Map<string, string[]>() };
      c.records.set(r.resource_type, r.ids);
      byCase.set(r.id, c);
    }
    return [...byCase.values()];
  }

  /** Sealed cases: every legal hold in force. */
  async countSealed(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dispute WHERE status = 'sealed'`);
    return row.n;
  }

  /**
   * Tells the other instances, inside the unit (a seal's, supplement's or unseal's), that the
   * withheld records change when it commits (cluster event `withheld`, decision 0012): nothing
   * is sent if it rolls back. Without a cluster (one instance), there is no one to wait for.
   */
  async withheldChangedWithin(unit: UnitOfWork): Promise<Announcement | undefined> {
    return this.cluster?.publish('withheld', [], sqlOf(unit));
  }

  private sql(unit: UnitOfWork | undefined): Queryable {
    return sqlOf(unit, this.db);
  }
}

function caseOf(r: CaseRow): DisputeCase {
  return {
    id: r.id,
    patient: r.patient_id,
    scope: r.scope,
    trigger: r.trigger,
    reason: r.reason,
    team: r.team,
    status: r.status,
    openedBy: r.opened_by,
    openedAt: r.opened_at,
    ...(r.sealed_at ? { sealedAt: r.sealed_at, sealedBy: r.sealed_by as string } : {}),
    ...(r.unsealed_at ? { unsealedAt: r.unsealed_at, unsealing: r.unsealing as Unsealing } : {}),
  };
}

function itemOf(i: ItemRow): InventoryItem {
  const line: InventoryLine = { type: i.resource_type, id: i.resource_id, version: i.version_id, status: i.status, ...(i.sha256 ? { sha256: i.sha256 } : {}) };
  return i.copy_no === null ? { line } : { line, copyNo: i.copy_no };
}

function copyOf(k: CopyRow): SealedCopySummary {
  return {
    n: k.copy_no,
    kind: k.kind,
    createdAt: k.created_at,
    createdBy: k.created_by,
    witnesses: k.witnesses,
    inventorySha256: k.inventory_sha256,
    bundleSha256: k.bundle_sha256,
    pdfSha256: k.pdf_sha256,
    pages: k.pages,
  };
}

function confirmationOf(c: ConfirmationRow): Confirmation {
  return {
    id: c.id,
    dispute: c.dispute_id,
    step: c.step,
    kind: c.kind,
    by: { id: c.actor_id, practitioner: c.practitioner, roles: c.roles },
    ...(c.inventory_digest ? { inventoryDigest: c.inventory_digest } : {}),
    ...(c.basis ? { basis: c.basis } : {}),
    ...(c.reason ? { reason: c.reason } : {}),
    confirmedAt: c.confirmed_at,
  };
}

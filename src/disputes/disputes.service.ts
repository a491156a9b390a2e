import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { AuditWriteJournal } from '../audit/audit-write-journal.js';
import { Clock } from '../common/clock.js';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { CLOSED_STATUSES } from '../governance/domain/document.js';
import { contentSha256 } from '../governance/domain/ledger.js';
import type { Actor } from '../identity/actor.js';
import { renderPdf, type PdfSection } from '../copies/pdf-renderer.js';
import { resourceSection } from '../copies/resource-text.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { onCaseTeam } from '../policy/withheld-records.port.js';
import { canonicalBundle, documentBundle } from '../copies/document-bundle.js';
import { encountersNotOf, patientName } from '../release/patient-record.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { HOSPITAL_OFFSET } from '../store/search/date-range.js';
import { PatientCompartment } from '../store/postgres/patient-compartment.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { DisputeWithholdings } from './dispute-withholdings.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import {
  inventoryDigest,
  isComplete,
  parseDisputeRequest,
  patientWitness,
  patientWitnessProblems,
  withSealedInventory,
  type DisputeScope,
  type HospitalWitness,
  type InventoryLine,
  type PatientWitness,
} from './domain/dispute-case.js';

interface CaseRow {
  id: string;
  patient_id: string;
  scope: DisputeScope;
  trigger: 'dispute' | 'public-incident';
  reason: string;
  team: string[];
  status: 'open' | 'sealed' | 'unsealed';
  opened_by: string;
  opened_at: Date;
  sealed_at: Date | null;
  sealed_by: string | null;
  unsealed_at: Date | null;
  unsealing: unknown;
}

interface ItemRow {
  resource_type: string;
  resource_id: string;
  version_id: number;
  status: 'sealed' | 'pending';
  sha256: string | null;
  copy_no: number | null;
}

interface CopyRow {
  copy_no: number;
  kind: string;
  created_at: Date;
  created_by: string;
  witnesses: unknown;
  inventory_sha256: string;
  bundle_sha256: string;
  pdf_sha256: string;
  pages: number;
}

/** A case as the API shows it. */
export interface DisputeView {
  id: string;
  patient: string;
  scope: DisputeScope;
  trigger: 'dispute' | 'public-incident';
  reason: string;
  team: string[];
  status: 'open' | 'sealed' | 'unsealed';
  openedBy: string;
  openedAt: string;
  sealedAt?: string;
  sealedBy?: string;
  unsealedAt?: string;
  unsealing?: unknown;
  inventory: { sealed: number; pending: number };
  copies: CopyView[];
}

export interface CopyView {
  n: number;
  kind: string;
  createdAt: string;
  createdBy: string;
  witnesses: unknown;
  inventorySha256: string;
  bundleSha256: string;
  pdfSha256: string;
  pages: number;
  pdf: string;
  json: string;
}

/** A confirmation as the API shows it (R-40, R-43). */
export interface ConfirmationView {
  id: string;
  dispute: string;
  step: 'seal' | 'unseal';
  kind: 'hospital-witness' | 'unseal-approval';
  by: { id: string; practitioner: string; roles: string[] };
  inventoryDigest?: string;
  basis?: string;
  reason?: string;
  confirmedAt: string;
  validUntil: string;
}

interface ConfirmationRow {
  id: string;
  dispute_id: string;
  step: 'seal' | 'unseal';
  kind: 'hospital-witness' | 'unseal-approval';
  actor_id: string;
  practitioner: string;
  roles: string[];
  inventory_digest: string | null;
  basis: string | null;
  reason: string | null;
  confirmed_at: Date;
}

/** A resource in a case's scope, locked for the sealing transaction. */
interface ScopedRow {
  resource_type: string;
  id: string;
  version_id: number;
  content: Resource;
}

/**
 * Sealing and unsealing records under dispute (R-40…R-44). A case is opened for a patient and
 * a scope; sealing, with both sides present, freezes the scope as an inventory of versions
 * with their SHA-256 and a sealed copy (electronic Bundle + PDF) identical for both sides;
 * the hold guard then refuses every write to it. Unfinished records are inventoried as
 * pending and sealed by a supplement once completed. Unsealing needs both sides again, or
 * medical affairs' approval when the case is resolved or the policy's years have passed.
 */
@Injectable()
export class DisputesService {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly clock: Clock,
    private readonly compartment: PatientCompartment,
    private readonly registry: SearchParameterRegistry,
    private readonly withholdings: DisputeWithholdings,
    private readonly journal: AuditWriteJournal,
  ) {}

  /** `POST /disputes`: a case for a patient; a public-opinion incident is sealed at once (R-44). */
  async open(ctx: FhirContext, body: unknown): Promise<DisputeView> {
    const request = parseDisputeRequest(body);
    await this.access.requireStored(ctx, 'seal', { type: 'Patient', id: request.patient }, this.store, { hideExistence: true });
    if (request.scope.kind === 'encounters') {
      const foreign = await encountersNotOf(this.db, request.patient, request.scope.encounters);
      if (foreign.length) throw new DisputeError(DisputeErrorCode.Invalid, `Not encounters of Patient/${request.patient}: ${foreign.map((e) => `Encounter/${e}`).join(', ')}`);
    }
    const id = randomUUID();
    const team = [...new Set([ctx.actor.practitioner, ...request.team])];
    const immediate = request.trigger === 'public-incident';
    // Opening a public incident is its seal: the trail says so (lifecycle hold).
    ctx.audit?.as(immediate ? { subtype: 'dispute-seal', lifecycle: 'hold', entity: { type: 'Dispute', id } } : { entity: { type: 'Dispute', id } });
    // A public-opinion incident is opened and sealed in one transaction (R-44): never left open half-way.
    await retryOnDeadlock(() =>
      this.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO dispute (id, patient_id, scope, trigger, reason, team, status, opened_by, opened_at, policy_version)
           VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)`,
          [id, request.patient, JSON.stringify(request.scope), request.trigger, request.reason, JSON.stringify(team), ctx.actor.id, this.clock.now(), this.policy.version],
        );
        if (immediate) {
          // Sealed by the hospital alone; the patient side is recorded as absent.
          await this.freeze(tx, ctx, id, 'seal', { hospital: hospitalSide(ctx.actor), patient: null, immediate: 'public-opinion incident (R-44)' });
          await tx.query(`UPDATE dispute SET status = 'sealed', sealed_at = $2, sealed_by = $3 WHERE id = $1`, [id, this.clock.now(), ctx.actor.id]);
          await this.withholdings.changedWithin(tx);
        }
        await this.journal.recordStep(ctx, request.patient, 201, tx);
      }),
    );
    if (immediate) this.withholdings.invalidate();
    return this.view(ctx, id);
  }

  /**
   * `POST /disputes/{id}/confirmations`: a person at the table confirms with their own
   * authenticated request (R-40, R-43). The hospital side's witness confirms the inventory shown
   * to both sides (`step: seal`, with its `inventoryDigest`) or an unsealing (`step: unseal`);
   * medical affairs approves a unilateral unseal (`step: unseal`, `basis: resolved | no-claim`,
   * `reason`). The officer's seal or unseal then uses it, within the policy's minutes.
   *
   * Who may confirm is policy data: `witness` on Dispute for the hospital side's witness,
   * `approve` on Dispute for the approval; anyone else is refused (403) before anything is
   * stored. The officer who opened or sealed the case is never its witness or approver (422).
   */
  async confirm(ctx: FhirContext, id: string, body: unknown): Promise<ConfirmationView> {
    const b = (body ?? {}) as Record<string, unknown>;
    const step = b.step;
    if (step !== 'seal' && step !== 'unseal') throw new DisputeError(DisputeErrorCode.Invalid, 'step: seal or unseal');
    const approval = step === 'unseal' && (b.basis === 'resolved' || b.basis === 'no-claim');
    const digest = typeof b.inventoryDigest === 'string' ? b.inventoryDigest : '';
    const reason = typeof b.reason === 'string' ? b.reason.trim() : '';
    if (step === 'seal' && digest && !/^[0-9a-f]{64}$/.test(digest)) {
      throw new DisputeError(DisputeErrorCode.Invalid, `inventoryDigest: the digest of the inventory shown to both sides (GET /disputes/${id}/inventory)`);
    }
    if (step === 'unseal' && b.basis !== undefined && b.basis !== 'both-sides' && !approval) throw new DisputeError(DisputeErrorCode.Invalid, 'basis: both-sides, resolved or no-claim (R-43)');
    if (approval && !reason) throw new DisputeError(DisputeErrorCode.Invalid, 'reason: how the case was resolved, or why no claim is expected (R-43)');
    const row = await this.findCase(id);
    ctx.audit?.concerns([row?.patient_id]);
    // The officer's own confirmation would never count (usableConfirmation): say so now, not after a 201.
    if (row && (ctx.actor.id === row.opened_by || ctx.actor.id === row.sealed_by)) {
      throw new DisputeError(
        DisputeErrorCode.SelfWitness,
        `You opened or sealed dispute ${id}: ${approval ? 'the approval' : "the hospital side's witness"} is another person, with their own request (R-40, R-43)`,
      );
    }
    // Decided before the case's existence or state is disclosed; a refusal is recorded against the case's patient.
    const decision = this.decisions.decideWorkflow(ctx.actor, approval ? 'approve' : 'witness', 'Dispute');
    ctx.audit?.decided(decision, row?.patient_id);
    if (!decision.allowed && approval) throw new DisputeError(DisputeErrorCode.Forbidden, 'A unilateral unseal is approved by medical affairs (policy: approve on Dispute, R-43)');
    if (!decision.allowed) {
      throw new DisputeError(DisputeErrorCode.WitnessRejected, "Your roles may not confirm for the hospital side: its witness is named by the policy (witness on Dispute, R-40, R-43)");
    }
    if (!row) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
    const wanted = step === 'seal' ? 'open' : 'sealed';
    if (row.status !== wanted) throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row.status}: a ${step} is confirmed while it is ${wanted}`);
    // The confirmation is usable only if its audit entry committed with it (R-51).
    const c = await this.db.transaction(async (tx) => {
      const [inserted] = await tx.query<ConfirmationRow>(
        `INSERT INTO dispute_confirmation (id, dispute_id, step, kind, actor_id, practitioner, roles, inventory_digest, basis, reason, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [randomUUID(), id, step, approval ? 'unseal-approval' : 'hospital-witness', ctx.actor.id, ctx.actor.practitioner, JSON.stringify(ctx.actor.roles), step === 'seal' && digest ? digest : null, approval ? b.basis : null, approval ? reason : null, this.clock.now()],
      );
      await this.journal.recordStep(ctx, row.patient_id, 201, tx);
      return inserted;
    });
    return this.confirmationView(c);
  }

  /**
   * `POST /disputes/{id}/seal` by the officer, both sides present (R-40): the patient side's
   * confirmation in the body, the hospital side's witness's given by their own request
   * (`confirmations`). With `inventoryDigest` (the inventory both sides were shown, and the one
   * the witness confirmed), nothing is sealed if it changed meanwhile (409): show it and confirm
   * again. Without it, what is frozen is what the sealed copy lists, which both sides sign.
   */
  async seal(ctx: FhirContext, id: string, body: unknown): Promise<DisputeView> {
    const row = await this.requireCase(id);
    await this.access.requireStored(ctx, 'seal', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    if (row.status !== 'open') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row.status}; only an open case is sealed`);
    const b = (body ?? {}) as Record<string, unknown>;
    const digest = typeof b.inventoryDigest === 'string' && b.inventoryDigest ? b.inventoryDigest : undefined;
    if (digest !== undefined && !/^[0-9a-f]{64}$/.test(digest)) throw new DisputeError(DisputeErrorCode.Invalid, `inventoryDigest: the digest of GET /disputes/${id}/inventory`);
    const problems = patientWitnessProblems(b.patientWitness);
    // A witness who confirmed a digest confirmed that inventory only.
    const witness = await this.usableConfirmation(ctx, row, 'seal', 'hospital-witness', (c) => c.inventory_digest === null || c.inventory_digest === digest);
    if (!witness) {
      problems.unshift(
        `the hospital side's witness confirms with their own request (POST /disputes/${id}/confirmations {"step":"seal"${digest ? `,"inventoryDigest":"${digest}"` : ''}}) within ${this.policy.disputeConfirmationMinutes} minutes`,
      );
    }
    if (problems.length) throw new DisputeError(DisputeErrorCode.ConfirmationMissing, `To seal, both sides are present and confirm (R-40); missing: ${problems.join('; ')}`);
    const witnesses = { hospital: { ...confirmationSide(witness as ConfirmationRow), officer: ctx.actor.practitioner }, patient: patientWitness(b.patientWitness) };
    await retryOnDeadlock(() =>
      this.db.transaction(async (tx) => {
        const [current] = await tx.query<{ status: string }>(`SELECT status FROM dispute WHERE id = $1 FOR UPDATE`, [id]);
        if (current?.status !== 'open') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${current?.status ?? 'unknown'}; only an open case is sealed`);
        await this.freeze(tx, ctx, id, 'seal', witnesses, digest ?? (witness as ConfirmationRow).inventory_digest ?? undefined);
        await tx.query(`UPDATE dispute SET status = 'sealed', sealed_at = $2, sealed_by = $3 WHERE id = $1`, [id, this.clock.now(), ctx.actor.id]);
        await this.withholdings.changedWithin(tx);
        await this.journal.recordStep(ctx, row.patient_id, 200, tx);
      }),
    );
    this.withholdings.invalidate();
    return this.view(ctx, id);
  }

  /** `POST /disputes/{id}/supplement`: seals records completed since (R-41), as a further sealed copy. */
  async supplement(ctx: FhirContext, id: string): Promise<DisputeView & { supplemented: string[] }> {
    const row = this.requireTeam(ctx, await this.requireCase(id));
    await this.access.requireStored(ctx, 'seal', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    const supplemented = await retryOnDeadlock(() =>
      this.db.transaction(async (tx) => {
        // Under the case's lock: no unseal and no other supplement in between.
        const [current] = await tx.query<{ status: string }>(`SELECT status FROM dispute WHERE id = $1 FOR UPDATE`, [id]);
        if (current?.status !== 'sealed') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${current?.status ?? 'unknown'}; only a sealed case is supplemented`);
        const sealed = await this.freeze(tx, ctx, id, 'supplement', { hospital: hospitalSide(ctx.actor), patient: null });
        await this.withholdings.changedWithin(tx);
        await this.journal.recordStep(ctx, row.patient_id, 200, tx);
        return sealed;
      }),
    );
    this.withholdings.invalidate();
    return { ...(await this.view(ctx, id)), supplemented };
  }

  /**
   * `POST /disputes/{id}/unseal` (R-43): `basis` `both-sides`, with the patient side in the body
   * and the hospital side's witness's confirmation; or `resolved` / `no-claim` by the hospital
   * alone, with medical affairs' approval of that basis (given by their own request), `no-claim`
   * only once the policy's years have passed since sealing.
   */
  async unseal(ctx: FhirContext, id: string, body: unknown): Promise<DisputeView> {
    const row = this.requireTeam(ctx, await this.requireCase(id));
    await this.access.requireStored(ctx, 'unseal', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    if (row.status !== 'sealed') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row.status}; only a sealed case is unsealed`);
    const b = (body ?? {}) as Record<string, unknown>;
    const basis = b.basis;
    let unsealing: Record<string, unknown>;
    if (basis === 'both-sides') {
      const problems = patientWitnessProblems(b.patientWitness);
      const witness = await this.usableConfirmation(ctx, row, 'unseal', 'hospital-witness', () => true);
      if (!witness) problems.unshift(`the hospital side's witness confirms with their own request (POST /disputes/${id}/confirmations {"step":"unseal"}) within ${this.policy.disputeConfirmationMinutes} minutes`);
      if (problems.length) throw new DisputeError(DisputeErrorCode.ConfirmationMissing, `To unseal, both sides are present again (R-43); missing: ${problems.join('; ')}`);
      unsealing = { basis, hospital: { ...confirmationSide(witness as ConfirmationRow), officer: ctx.actor.practitioner }, patient: patientWitness(b.patientWitness) };
    } else if (basis === 'resolved' || basis === 'no-claim') {
      const approval = await this.usableConfirmation(ctx, row, 'unseal', 'unseal-approval', (c) => c.basis === basis);
      if (!approval) {
        throw new DisputeError(
          DisputeErrorCode.ConfirmationMissing,
          `A unilateral unseal (${basis}) needs medical affairs' approval of it, given with their own request (POST /disputes/${id}/confirmations {"step":"unseal","basis":"${basis}","reason":…}) within ${this.policy.disputeConfirmationMinutes} minutes (R-43)`,
        );
      }
      if (basis === 'no-claim') {
        const years = this.policy.unilateralUnsealAfterYears;
        const opensAt = addYears(row.sealed_at as Date, years);
        if (this.clock.now() < opensAt) {
          throw new DisputeError(
            DisputeErrorCode.UnsealNotAllowed,
            `Dispute ${id} was sealed on ${(row.sealed_at as Date).toISOString()}: without a claim the hospital may unseal alone from ${opensAt.toISOString()} (${years} years, R-43); before that both sides are present`,
          );
        }
      }
      unsealing = { basis, reason: approval.reason, approvedBy: confirmationSide(approval), officer: hospitalSide(ctx.actor) };
    } else {
      throw new DisputeError(DisputeErrorCode.Invalid, 'basis: both-sides, resolved or no-claim (R-43)');
    }
    await this.db.transaction(async (tx) => {
      const [done] = await tx.query<{ id: string }>(
        `UPDATE dispute SET status = 'unsealed', unsealed_at = $2, unsealing = $3 WHERE id = $1 AND status = 'sealed' RETURNING id`,
        [id, this.clock.now(), JSON.stringify(unsealing)],
      );
      if (!done) throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is no longer sealed`);
      await this.withholdings.changedWithin(tx);
      await this.journal.recordStep(ctx, row.patient_id, 200, tx);
    });
    this.withholdings.invalidate();
    return this.view(ctx, id);
  }

  async get(ctx: FhirContext, id: string): Promise<DisputeView> {
    this.requireList(ctx);
    this.requireTeam(ctx, await this.requireCase(id));
    return this.view(ctx, id);
  }

  /** `GET /disputes?patient=&status=`: newest first; a public incident's case only for its team (R-44). */
  async list(ctx: FhirContext, patient: string | undefined, status: string | undefined): Promise<DisputeView[]> {
    this.requireList(ctx);
    const rows = await this.db.query<CaseRow>(
      `SELECT * FROM dispute WHERE ($1::text IS NULL OR patient_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY opened_at DESC LIMIT 200`,
      [patient?.replace(/^Patient\//, '') ?? null, status ?? null],
    );
    return Promise.all(rows.filter((r) => onTeam(ctx, r)).map((r) => this.view(ctx, r.id)));
  }

  /**
   * The inventory (封存清单), with its inventory digest over every line, sealed and pending.
   * Open: what sealing now would inventory, as both sides are shown it and confirm it. Sealed or
   * unsealed: the lines as stored, each with its version and (sealed) hash; `digest` is then the
   * one printed on the latest sealed copy, unless a supplement has since inventoried new pending lines.
   */
  async inventory(ctx: FhirContext, id: string): Promise<{ dispute: string; patient: string; status: string; digest: string; lines: InventoryLine[] }> {
    this.requireList(ctx);
    const row = this.requireTeam(ctx, await this.requireCase(id));
    ctx.audit?.concerns([row.patient_id]);
    if (row.status === 'open') {
      const lines = linesOf(await this.scopedRecords(this.db, row, await this.scopeEncounters(this.db, row), false), this.policy.governedResources);
      return { dispute: id, patient: row.patient_id, status: row.status, digest: inventoryDigest(lines), lines };
    }
    const lines = (await this.items(this.db, id)).map(itemLine);
    return { dispute: id, patient: row.patient_id, status: row.status, digest: inventoryDigest(lines), lines };
  }

  /** A sealed copy: its PDF or its electronic Bundle, exactly as sealed. */
  async copy(ctx: FhirContext, id: string, n: number, format: 'pdf' | 'json'): Promise<{ body: Buffer | string; sha256: string }> {
    this.requireList(ctx);
    const row = this.requireTeam(ctx, await this.requireCase(id));
    ctx.audit?.concerns([row.patient_id]);
    const [copy] = await this.db.query<{ pdf: Buffer; bundle: string; pdf_sha256: string; bundle_sha256: string }>(
      `SELECT pdf, bundle, pdf_sha256, bundle_sha256 FROM dispute_copy WHERE dispute_id = $1 AND copy_no = $2`,
      [id, n],
    );
    if (!copy) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} has no sealed copy ${n}`);
    const held = await this.db.query<{ resource_type: string; resource_id: string; version_id: string }>(
      `SELECT resource_type, resource_id, version_id::text AS version_id FROM dispute_item WHERE dispute_id = $1 AND copy_no = $2 ORDER BY resource_type, resource_id`,
      [id, n],
    );
    // Whoever takes the copy's file takes these versions (R-20): the entry names each.
    ctx.audit?.as({ disclosed: held.map((h) => ({ type: h.resource_type, id: h.resource_id, version: h.version_id })) });
    return format === 'pdf' ? { body: copy.pdf, sha256: copy.pdf_sha256 } : { body: copy.bundle, sha256: copy.bundle_sha256 };
  }

  /**
   * Inventories the case's scope as it stands, in `tx`: locks the patient and the scope's
   * encounters, then every record in scope (`FOR UPDATE`, so a concurrent write either commits
   * first and is inventoried, or waits and is refused by the hold guard). New complete records
   * and completed pending ones are sealed into a new copy; unfinished ones are pending.
   * Returns the references sealed by this copy.
   */
  private async freeze(tx: Queryable, ctx: FhirContext, id: string, kind: 'seal' | 'supplement', witnesses: Record<string, unknown>, confirmedDigest?: string): Promise<string[]> {
    const [c] = await tx.query<CaseRow>(`SELECT * FROM dispute WHERE id = $1`, [id]);
    const encounters = await this.scopeEncounters(tx, c);
    await tx.query(
      `SELECT 1 FROM fhir_resource WHERE (resource_type = 'Patient' AND id = $1) OR (resource_type = 'Encounter' AND id = ANY($2::text[]))
        ORDER BY resource_type, id FOR UPDATE`,
      [c.patient_id, encounters],
    );
    const scoped = await this.scopedRecords(tx, c, encounters, true);
    // Each record's line (complete or pending, its hash) once: the digest check, the inventory and the copy use it.
    const all = linesOf(scoped, this.policy.governedResources);
    if (confirmedDigest !== undefined) {
      const now = inventoryDigest(all);
      if (now !== confirmedDigest) {
        throw new DisputeError(
          DisputeErrorCode.InventoryChanged,
          `The inventory of dispute ${id} changed since it was shown and confirmed (confirmed ${confirmedDigest}, now ${now}): nothing was sealed; show it again and confirm (R-40)`,
        );
      }
    }
    const known = new Map((await this.items(tx, id)).map((i) => [`${i.resource_type}/${i.resource_id}`, i]));
    const [{ n }] = await tx.query<{ n: number }>(`SELECT coalesce(max(copy_no), 0)::int + 1 AS n FROM dispute_copy WHERE dispute_id = $1`, [id]);
    const entries: { resource: Resource; sha256: string }[] = [];
    const lines: InventoryLine[] = [];
    const pending: InventoryLine[] = [];
    for (const [i, r] of scoped.entries()) {
      const line = all[i];
      const ref = `${r.resource_type}/${r.id}`;
      const before = known.get(ref);
      if (before?.status === 'sealed') continue;
      if (line.sha256) {
        entries.push({ resource: r.content, sha256: line.sha256 });
        lines.push(line);
      } else {
        // A pending line stays as first inventoried: the copy lists it as the inventory stores it.
        pending.push(before ? itemLine(before) : line);
      }
      if (before) {
        if (line.sha256) await tx.query(`UPDATE dispute_item SET status = 'sealed', version_id = $4, sha256 = $5, copy_no = $6 WHERE dispute_id = $1 AND resource_type = $2 AND resource_id = $3`, [id, r.resource_type, r.id, r.version_id, line.sha256, n]);
      } else {
        await tx.query(
          `INSERT INTO dispute_item (dispute_id, resource_type, resource_id, version_id, status, sha256, copy_no) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, r.resource_type, r.id, r.version_id, line.status, line.sha256 ?? null, line.sha256 ? n : null],
        );
      }
    }
    if (kind === 'supplement' && entries.length === 0) return [];
    // The inventory as of this copy: lines sealed by earlier copies, by this one, and those pending.
    // For the first copy these are exactly the lines shown and confirmed: its digest is the confirmed one.
    const earlier = [...known.values()].filter((i) => i.status === 'sealed');
    const digest = inventoryDigest([...earlier.map(itemLine), ...lines, ...pending]);
    const now = this.clock.now();
    const pendingRefs = pending.map((p) => `${p.type}/${p.id} v${p.version}`);
    const document = documentBundle({
      title: '封存清单 Sealed record inventory',
      patient: c.patient_id,
      author: ctx.actor.practitioner,
      date: now,
      reference: `Dispute/${id} #${n}`,
      baseUrl: ctx.baseUrl,
      entries,
      pending: pendingRefs,
    });
    const bundle = canonicalBundle(withSealedInventory(document, digest, pending));
    const patient = await patientName(tx, c.patient_id);
    const pdf = await renderPdf({
      title: `封存清单 Sealed record inventory (${kind === 'seal' ? '封存' : '补充封存 supplement'})`,
      reference: `Dispute ${id} #${n}`,
      stamp: `${this.policy.hospitalName} 封存 SEALED`,
      footerHash: digest,
      footerHashLabel: '清单摘要 Inventory digest',
      createdAt: now,
      author: ctx.actor.practitioner,
      sections: [caseSection(c, patient, witnesses, now, digest, bundle.sha256), inventorySection(earlier, lines, pending), ...entries.map((e) => resourceSection(e.resource))],
    });
    await tx.query(
      `INSERT INTO dispute_copy (dispute_id, copy_no, kind, created_at, created_by, witnesses, inventory_sha256, bundle, bundle_sha256, pdf, pdf_sha256, pages)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [id, n, kind, now, ctx.actor.id, JSON.stringify(witnesses), digest, bundle.text, bundle.sha256, pdf.bytes, pdf.sha256, pdf.pages],
    );
    ctx.audit?.concerns([c.patient_id]);
    // The sealed copy goes to both sides (R-40): its entry names each version it holds (R-20).
    ctx.audit?.as({ disclosed: lines.map((l) => ({ type: l.type, id: l.id, version: String(l.version) })) });
    return entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`);
  }

  /** The encounters a case covers: listed, of the period (overlapping, in the hospital's time zone), or all of the patient's. */
  private async scopeEncounters(q: Queryable, c: CaseRow): Promise<string[]> {
    if (c.scope.kind === 'encounters') return c.scope.encounters;
    const period = c.scope.kind === 'date-range' ? [`${c.scope.from}T00:00:00${HOSPITAL_OFFSET}`, `${c.scope.to}T23:59:59.999${HOSPITAL_OFFSET}`] : [null, null];
    const rows = await q.query<{ id: string }>(
      `SELECT DISTINCT x.resource_id AS id FROM fhir_search_reference x
        WHERE x.resource_type = 'Encounter' AND x.param IN ('subject', 'patient') AND x.target_type = 'Patient' AND x.target_id = $1
          AND ($2::timestamptz IS NULL OR EXISTS (SELECT 1 FROM fhir_search_date d WHERE d.resource_type = 'Encounter' AND d.resource_id = x.resource_id
                AND d.param = 'date' AND d.low <= $3::timestamptz AND d.high >= $2::timestamptz))
        ORDER BY 1`,
      [c.patient_id, period[0], period[1]],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Every record in scope, locked when `lock` (sealing): the encounters and the patient's records
   * that belong to them (encounter/context), for a whole record also the rest of the patient's
   * compartment, the Provenance (signatures) of any of them, and the case's pending lines
   * wherever they are now (R-41: sealed once completed, even if moved). A record of another
   * patient filed under the encounter is not the patient's record and is left out. The Patient
   * resource itself (the master index, kept by registration) is not sealed.
   */
  private async scopedRecords(q: Queryable, c: CaseRow, encounters: string[], lock: boolean): Promise<ScopedRow[]> {
    const { types, params } = this.compartment.memberParams(this.registry);
    const whole = c.scope.kind === 'whole-record';
    return q.query<ScopedRow>(
      `WITH base AS (
         SELECT 'Encounter'::text AS resource_type, e AS resource_id FROM unnest($1::text[]) e
         UNION SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
          WHERE x.param IN ('encounter', 'context') AND x.target_type = 'Encounter' AND x.target_id = ANY($1::text[])
            AND EXISTS (SELECT 1 FROM fhir_search_reference s WHERE s.resource_type = x.resource_type AND s.resource_id = x.resource_id
                          AND s.param IN ('subject', 'patient') AND s.target_type = 'Patient' AND s.target_id = $3)
         UNION SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
          WHERE $2 AND x.target_type = 'Patient' AND x.target_id = $3 AND x.resource_type <> 'Patient'
            AND (x.resource_type, x.param) IN (SELECT * FROM unnest($4::text[], $5::text[]))
       ), signed AS (
         SELECT p.resource_type, p.resource_id FROM fhir_search_reference p JOIN base b ON p.target_type = b.resource_type AND p.target_id = b.resource_id
          WHERE p.resource_type = 'Provenance' AND p.param = 'target'
       ), pending AS (
         SELECT i.resource_type, i.resource_id FROM dispute_item i WHERE i.dispute_id = $6 AND i.status = 'pending'
       )
       SELECT r.resource_type, r.id, r.version_id, r.content FROM fhir_resource r
        WHERE (r.resource_type, r.id) IN (SELECT * FROM base UNION SELECT * FROM signed UNION SELECT * FROM pending)
        ORDER BY r.resource_type, r.id${lock ? ' FOR UPDATE' : ''}`,
      [encounters, whole, c.patient_id, types, params, c.id],
    );
  }

  /**
   * The latest confirmation of this kind for this step that the officer may use now: given since
   * the case's last step, within the policy's minutes, by someone other than the officer.
   */
  private async usableConfirmation(
    ctx: FhirContext,
    row: CaseRow,
    step: 'seal' | 'unseal',
    kind: 'hospital-witness' | 'unseal-approval',
    matches: (c: ConfirmationRow) => boolean,
  ): Promise<ConfirmationRow | undefined> {
    const since = step === 'seal' ? row.opened_at : (row.sealed_at as Date);
    const now = this.clock.now();
    const freshFrom = new Date(now.getTime() - this.policy.disputeConfirmationMinutes * 60_000);
    const rows = await this.db.query<ConfirmationRow>(
      `SELECT * FROM dispute_confirmation WHERE dispute_id = $1 AND step = $2 AND kind = $3 AND confirmed_at >= $4 AND confirmed_at >= $5 AND actor_id <> $6
        ORDER BY confirmed_at DESC`,
      [row.id, step, kind, since, freshFrom, ctx.actor.id],
    );
    return rows.find(matches);
  }

  /** A public incident's case, its inventory and copies are for its team alone (R-44). */
  private requireTeam(ctx: FhirContext, row: CaseRow): CaseRow {
    if (!onTeam(ctx, row)) throw new DisputeError(DisputeErrorCode.Forbidden, `Dispute ${row.id} is a public-opinion incident: only its case team sees it (R-44)`);
    return row;
  }

  private confirmationView(c: ConfirmationRow): ConfirmationView {
    return {
      id: c.id,
      dispute: c.dispute_id,
      step: c.step,
      kind: c.kind,
      by: { id: c.actor_id, practitioner: c.practitioner, roles: c.roles },
      ...(c.inventory_digest ? { inventoryDigest: c.inventory_digest } : {}),
      ...(c.basis ? { basis: c.basis } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      confirmedAt: c.confirmed_at.toISOString(),
      validUntil: new Date(c.confirmed_at.getTime() + this.policy.disputeConfirmationMinutes * 60_000).toISOString(),
    };
  }

  private requireList(ctx: FhirContext): void {
    const decision = this.decisions.decideWorkflow(ctx.actor, 'list', 'Dispute');
    ctx.audit?.decided(decision, undefined);
    if (!decision.allowed) throw new DisputeError(DisputeErrorCode.Forbidden, 'Dispute cases are seen by the disputes office and medical affairs (R-40)');
  }

  private async findCase(id: string): Promise<CaseRow | undefined> {
    const [row] = await this.db.query<CaseRow>(`SELECT * FROM dispute WHERE id = $1`, [uuidOr(id)]);
    return row;
  }

  private async requireCase(id: string): Promise<CaseRow> {
    const row = await this.findCase(id);
    if (!row) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
    return row;
  }

  private items(q: Queryable, id: string): Promise<ItemRow[]> {
    return q.query<ItemRow>(`SELECT resource_type, resource_id, version_id, status, sha256, copy_no FROM dispute_item WHERE dispute_id = $1 ORDER BY resource_type, resource_id`, [id]);
  }

  private async view(ctx: FhirContext, id: string): Promise<DisputeView> {
    const [c] = await this.db.query<CaseRow>(`SELECT * FROM dispute WHERE id = $1`, [id]);
    const [counts] = await this.db.query<{ sealed: number; pending: number }>(
      `SELECT count(*) FILTER (WHERE status = 'sealed')::int AS sealed, count(*) FILTER (WHERE status = 'pending')::int AS pending FROM dispute_item WHERE dispute_id = $1`,
      [id],
    );
    const copies = await this.db.query<CopyRow>(
      `SELECT copy_no, kind, created_at, created_by, witnesses, inventory_sha256, bundle_sha256, pdf_sha256, pages FROM dispute_copy WHERE dispute_id = $1 ORDER BY copy_no`,
      [id],
    );
    ctx.audit?.concerns([c.patient_id]);
    const base = ctx.baseUrl.replace(/\/fhir$/, '');
    return {
      id: c.id,
      patient: c.patient_id,
      scope: c.scope,
      trigger: c.trigger,
      reason: c.reason,
      team: c.team,
      status: c.status,
      openedBy: c.opened_by,
      openedAt: c.opened_at.toISOString(),
      ...(c.sealed_at ? { sealedAt: c.sealed_at.toISOString(), sealedBy: c.sealed_by as string } : {}),
      ...(c.unsealed_at ? { unsealedAt: c.unsealed_at.toISOString(), unsealing: c.unsealing } : {}),
      inventory: counts,
      copies: copies.map((k) => ({
        n: k.copy_no,
        kind: k.kind,
        createdAt: k.created_at.toISOString(),
        createdBy: k.created_by,
        witnesses: k.witnesses,
        inventorySha256: k.inventory_sha256,
        bundleSha256: k.bundle_sha256,
        pdfSha256: k.pdf_sha256,
        pages: k.pages,
        pdf: `${base}/disputes/${c.id}/copies/${k.copy_no}.pdf`,
        json: `${base}/disputes/${c.id}/copies/${k.copy_no}.json`,
      })),
    };
  }
}

/**
 * Sealing locks a whole scope; a transaction Bundle that both updates a record in scope and
 * creates one for a sealed visit can deadlock with it, and PostgreSQL then aborts one of the two.
 * The seal is tried again (the Bundle, if it was the one aborted, answers 500 and wrote nothing).
 */
async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= attempts || (e as { code?: string }).code !== '40P01') throw e;
    }
  }
}

/** Whether the operator may see this case: any case, but a public incident's only for its team (R-44). */
function onTeam(ctx: FhirContext, row: CaseRow): boolean {
  return row.trigger !== 'public-incident' || onCaseTeam(row.team, ctx.actor);
}

/** The person behind a confirmation, as the case records them. */
function confirmationSide(c: ConfirmationRow): HospitalWitness & { confirmation: string; confirmedAt: string } {
  return { id: c.actor_id, practitioner: c.practitioner, roles: c.roles, confirmed: true, confirmation: c.id, confirmedAt: c.confirmed_at.toISOString() };
}

/** The inventory lines sealing these records now would write: complete ones sealed with their hash, the rest pending. */
function linesOf(scoped: readonly ScopedRow[], governed: readonly string[]): InventoryLine[] {
  return scoped.map((r) =>
    isComplete(r.content, governed, CLOSED_STATUSES)
      ? { type: r.resource_type, id: r.id, version: r.version_id, status: 'sealed', sha256: contentSha256(r.content) }
      : { type: r.resource_type, id: r.id, version: r.version_id, status: 'pending' },
  );
}

function hospitalSide(actor: Actor): HospitalWitness {
  return { id: actor.id, practitioner: actor.practitioner, roles: actor.roles, confirmed: true };
}

function itemLine(i: ItemRow): InventoryLine {
  return { type: i.resource_type, id: i.resource_id, version: i.version_id, status: i.status, ...(i.sha256 ? { sha256: i.sha256 } : {}) };
}

function addYears(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + Math.floor(years));
  const rest = years - Math.floor(years);
  return rest ? new Date(out.getTime() + rest * 365.25 * 86_400_000) : out;
}

function caseSection(c: CaseRow, patientName: string, witnesses: Record<string, unknown>, at: Date, digest: string, bundleSha: string): PdfSection {
  const scope = c.scope.kind === 'whole-record' ? '全部病历 whole record' : c.scope.kind === 'encounters' ? `就诊 encounters: ${c.scope.encounters.join(', ')}` : `期间 period: ${c.scope.from} – ${c.scope.to}`;
  const h = witnesses.hospital as HospitalWitness | undefined;
  const p = witnesses.patient as PatientWitness | null | undefined;
  return {
    heading: '案件 Case',
    lines: [
      `案件编号 Case: ${c.id}`,
      `患者 Patient: ${patientName} (Patient/${c.patient_id})`,
      `范围 Scope: ${scope}`,
      `原因 Reason: ${c.reason}${c.trigger === 'public-incident' ? ' · 舆情事件 public-opinion incident (R-44)' : ''}`,
      `时间 Time: ${at.toISOString()}`,
      `医方 Hospital side: ${h ? `${h.practitioner} (${h.roles.join(', ')})` : '—'}`,
      `患方 Patient side: ${p ? `${p.name} (${p.relationship}), ${p.idDocument.type} ****${p.idDocument.number.slice(-4)}` : String(witnesses.immediate ?? '—')}`,
      `清单摘要 Inventory digest: ${digest}`,
      '  (SHA-256 over every line of the inventory below, sealed with its hash and pending with its version: the digest both sides confirm)',
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      '  (SHA-256 of this copy\'s electronic Bundle file: not the inventory digest)',
      '医方签字 Hospital signature: ____________    患方签字 Patient-side signature: ____________',
    ],
  };
}

/** Every line the inventory digest covers: sealed by earlier copies, by this copy, and pending. */
function inventorySection(earlier: readonly ItemRow[], lines: readonly InventoryLine[], pending: readonly InventoryLine[]): PdfSection {
  return {
    heading: `封存清单 Inventory (${lines.length} sealed${earlier.length ? `, ${earlier.length} sealed before` : ''}, ${pending.length} pending)`,
    lines: [
      ...earlier.map((i) => `${i.resource_type}/${i.resource_id} v${i.version_id} SHA-256 ${i.sha256} (已封存 sealed by copy #${i.copy_no})`),
      ...lines.map((l) => `${l.type}/${l.id} v${l.version} SHA-256 ${l.sha256}`),
      ...pending.map((p) => `待补充封存 pending: ${p.type}/${p.id} v${p.version}`),
    ],
  };
}

import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { CLOSED_STATUSES } from '../governance/domain/document.js';
import { contentSha256 } from '../governance/domain/ledger.js';
import type { Actor } from '../identity/actor.js';
import { TokenVerifier } from '../identity/token.verifier.js';
import { renderPdf, type PdfSection } from '../pdf/pdf-renderer.js';
import { resourceSection } from '../pdf/resource-text.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { canonicalBundle, documentBundle } from '../release/document-bundle.js';
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

/** Headers through which the other people at the table authenticate: each carries their own bearer token. */
export interface Cosigners {
  witness?: string;
  approver?: string;
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
    private readonly tokens: TokenVerifier,
    private readonly compartment: PatientCompartment,
    private readonly registry: SearchParameterRegistry,
    private readonly withholdings: DisputeWithholdings,
  ) {}

  /** `POST /disputes`: a case for a patient; a public-opinion incident is sealed at once (R-44). */
  async open(ctx: FhirContext, body: unknown): Promise<DisputeView> {
    const request = parseDisputeRequest(body);
    await this.access.requireStored(ctx, 'seal', { type: 'Patient', id: request.patient }, this.store, { hideExistence: true });
    if (request.scope.kind === 'encounters') await this.requireEncountersOf(request.patient, request.scope.encounters);
    const id = randomUUID();
    const team = [...new Set([ctx.actor.practitioner, ...request.team])];
    await this.db.query(
      `INSERT INTO dispute (id, patient_id, scope, trigger, reason, team, status, opened_by, opened_at, policy_version)
       VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)`,
      [id, request.patient, JSON.stringify(request.scope), request.trigger, request.reason, JSON.stringify(team), ctx.actor.id, this.clock.now(), this.policy.version],
    );
    if (request.trigger === 'public-incident') {
      // R-44: sealed at once by the hospital; the patient side confirms later copies, if it comes.
      const witnesses = { hospital: hospitalSide(ctx.actor), patient: null, immediate: 'public-opinion incident (R-44)' };
      await this.sealCase(ctx, id, witnesses);
    }
    return this.view(ctx, id);
  }

  /** `POST /disputes/{id}/seal`: both sides present and confirming (R-40). */
  async seal(ctx: FhirContext, id: string, body: unknown, cosigners: Cosigners): Promise<DisputeView> {
    const row = await this.requireCase(id);
    await this.access.requireStored(ctx, 'seal', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    if (row.status !== 'open') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row.status}; only an open case is sealed`);
    const witnesses = await this.bothSides(ctx, body, cosigners.witness, 'seal');
    await this.sealCase(ctx, id, witnesses);
    return this.view(ctx, id);
  }

  /** `POST /disputes/{id}/supplement`: seals records completed since (R-41), as a further sealed copy. */
  async supplement(ctx: FhirContext, id: string): Promise<DisputeView & { supplemented: string[] }> {
    const row = await this.requireCase(id);
    await this.access.requireStored(ctx, 'seal', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    if (row.status !== 'sealed') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row.status}; only a sealed case is supplemented`);
    const supplemented = await retryOnDeadlock(() => this.db.transaction((tx) => this.freeze(tx, ctx, id, 'supplement', { hospital: hospitalSide(ctx.actor), patient: null })));
    this.withholdings.invalidate();
    return { ...(await this.view(ctx, id)), supplemented };
  }

  /**
   * `POST /disputes/{id}/unseal` (R-43): `basis` `both-sides` with both sides' confirmations
   * again, or `resolved` / `no-claim` by the hospital alone with medical affairs' approval,
   * `no-claim` only once the policy's years have passed since sealing.
   */
  async unseal(ctx: FhirContext, id: string, body: unknown, cosigners: Cosigners): Promise<DisputeView> {
    const row = await this.requireCase(id);
    await this.access.requireStored(ctx, 'unseal', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    if (row.status !== 'sealed') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row.status}; only a sealed case is unsealed`);
    const b = (body ?? {}) as Record<string, unknown>;
    const basis = b.basis;
    let unsealing: Record<string, unknown>;
    if (basis === 'both-sides') {
      unsealing = { basis, ...(await this.bothSides(ctx, body, cosigners.witness, 'unseal')) };
    } else if (basis === 'resolved' || basis === 'no-claim') {
      const note = typeof b.reason === 'string' ? b.reason.trim() : '';
      const problems: string[] = [];
      if (!note) problems.push(basis === 'resolved' ? 'reason: how the case was resolved' : 'reason: why no claim is expected');
      if (!cosigners.approver) problems.push("X-Approver-Authorization: medical affairs' approval (their own bearer token)");
      if (problems.length) throw new DisputeError(DisputeErrorCode.ConfirmationMissing, `A unilateral unseal needs: ${problems.join('; ')} (R-43)`);
      const approver = await this.cosigner(cosigners.approver, 'approver');
      if (approver.id === ctx.actor.id) throw new DisputeError(DisputeErrorCode.WitnessRejected, 'The officer does not approve their own unsealing (R-43)');
      if (!this.decisions.decideWorkflow(approver, 'approve', 'Dispute').allowed) {
        throw new DisputeError(DisputeErrorCode.UnsealNotAllowed, `${approver.practitioner} may not approve an unsealing: the policy gives that to medical affairs (R-43)`);
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
      unsealing = { basis, reason: note, approvedBy: { id: approver.id, practitioner: approver.practitioner, roles: approver.roles }, officer: hospitalSide(ctx.actor) };
    } else {
      throw new DisputeError(DisputeErrorCode.Invalid, 'basis: both-sides, resolved or no-claim (R-43)');
    }
    const [done] = await this.db.query<{ id: string }>(
      `UPDATE dispute SET status = 'unsealed', unsealed_at = $2, unsealing = $3 WHERE id = $1 AND status = 'sealed' RETURNING id`,
      [id, this.clock.now(), JSON.stringify(unsealing)],
    );
    if (!done) throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is no longer sealed`);
    this.withholdings.invalidate();
    return this.view(ctx, id);
  }

  async get(ctx: FhirContext, id: string): Promise<DisputeView> {
    this.requireList(ctx);
    await this.requireCase(id);
    return this.view(ctx, id);
  }

  /** `GET /disputes?patient=&status=`: newest first. */
  async list(ctx: FhirContext, patient: string | undefined, status: string | undefined): Promise<DisputeView[]> {
    this.requireList(ctx);
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM dispute WHERE ($1::text IS NULL OR patient_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY opened_at DESC LIMIT 200`,
      [patient?.replace(/^Patient\//, '') ?? null, status ?? null],
    );
    return Promise.all(rows.map((r) => this.view(ctx, r.id)));
  }

  /** The inventory (封存清单): every line with its version and hash, sealed or pending; `digest` is that of the sealed lines. */
  async inventory(ctx: FhirContext, id: string): Promise<{ dispute: string; patient: string; digest: string; lines: InventoryLine[] }> {
    this.requireList(ctx);
    const row = await this.requireCase(id);
    ctx.audit?.concerns([row.patient_id]);
    const lines = (await this.items(this.db, id)).map(line);
    return { dispute: id, patient: row.patient_id, digest: inventoryDigest(lines.filter((l) => l.status === 'sealed')), lines };
  }

  /** A sealed copy: its PDF or its electronic Bundle, exactly as sealed. */
  async copy(ctx: FhirContext, id: string, n: number, format: 'pdf' | 'json'): Promise<{ body: Buffer | string; sha256: string }> {
    this.requireList(ctx);
    const row = await this.requireCase(id);
    ctx.audit?.concerns([row.patient_id]);
    const [copy] = await this.db.query<{ pdf: Buffer; bundle: string; pdf_sha256: string; bundle_sha256: string }>(
      `SELECT pdf, bundle, pdf_sha256, bundle_sha256 FROM dispute_copy WHERE dispute_id = $1 AND copy_no = $2`,
      [id, n],
    );
    if (!copy) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} has no sealed copy ${n}`);
    return format === 'pdf' ? { body: copy.pdf, sha256: copy.pdf_sha256 } : { body: copy.bundle, sha256: copy.bundle_sha256 };
  }

  private async sealCase(ctx: FhirContext, id: string, witnesses: Record<string, unknown>): Promise<void> {
    await retryOnDeadlock(() => this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ status: string }>(`SELECT status FROM dispute WHERE id = $1 FOR UPDATE`, [id]);
      if (row?.status !== 'open') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${row?.status ?? 'unknown'}; only an open case is sealed`);
      await this.freeze(tx, ctx, id, 'seal', witnesses);
      await tx.query(`UPDATE dispute SET status = 'sealed', sealed_at = $2, sealed_by = $3 WHERE id = $1`, [id, this.clock.now(), ctx.actor.id]);
    }));
    this.withholdings.invalidate();
  }

  /**
   * Inventories the case's scope as it stands, in `tx`: locks the patient and the scope's
   * encounters, then every record in scope (`FOR UPDATE`, so a concurrent write either commits
   * first and is inventoried, or waits and is refused by the hold guard). New complete records
   * and completed pending ones are sealed into a new copy; unfinished ones are pending.
   * Returns the references sealed by this copy.
   */
  private async freeze(tx: Queryable, ctx: FhirContext, id: string, kind: 'seal' | 'supplement', witnesses: Record<string, unknown>): Promise<string[]> {
    const [c] = await tx.query<CaseRow>(`SELECT * FROM dispute WHERE id = $1`, [id]);
    const encounters = await this.scopeEncounters(tx, c);
    await tx.query(
      `SELECT 1 FROM fhir_resource WHERE (resource_type = 'Patient' AND id = $1) OR (resource_type = 'Encounter' AND id = ANY($2::text[]))
        ORDER BY resource_type, id FOR UPDATE`,
      [c.patient_id, encounters],
    );
    const scoped = await this.scopedRecords(tx, c, encounters);
    const known = new Map((await this.items(tx, id)).map((i) => [`${i.resource_type}/${i.resource_id}`, i]));
    const [{ n }] = await tx.query<{ n: number }>(`SELECT coalesce(max(copy_no), 0)::int + 1 AS n FROM dispute_copy WHERE dispute_id = $1`, [id]);
    const sealedNow: ScopedRow[] = [];
    const pending: string[] = [];
    for (const r of scoped) {
      const ref = `${r.resource_type}/${r.id}`;
      const before = known.get(ref);
      if (before?.status === 'sealed') continue;
      const complete = isComplete(r.content, this.policy.governedResources, CLOSED_STATUSES);
      if (complete) sealedNow.push(r);
      else pending.push(`${ref} v${r.version_id}`);
      const status = complete ? 'sealed' : 'pending';
      const sha = complete ? contentSha256(r.content) : null;
      if (before) {
        if (complete) await tx.query(`UPDATE dispute_item SET status = 'sealed', version_id = $4, sha256 = $5, copy_no = $6 WHERE dispute_id = $1 AND resource_type = $2 AND resource_id = $3`, [id, r.resource_type, r.id, r.version_id, sha, n]);
      } else {
        await tx.query(
          `INSERT INTO dispute_item (dispute_id, resource_type, resource_id, version_id, status, sha256, copy_no) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, r.resource_type, r.id, r.version_id, status, sha, complete ? n : null],
        );
      }
    }
    if (kind === 'supplement' && sealedNow.length === 0) return [];
    const entries = sealedNow.map((r) => ({ resource: r.content, sha256: contentSha256(r.content) }));
    const lines: InventoryLine[] = entries.map((e) => ({ type: e.resource.resourceType, id: e.resource.id as string, version: Number(e.resource.meta?.versionId), status: 'sealed', sha256: e.sha256 }));
    const digest = inventoryDigest(lines);
    const now = this.clock.now();
    const bundle = canonicalBundle(
      documentBundle({ title: '封存清单 Sealed record inventory', patient: c.patient_id, author: ctx.actor.practitioner, date: now, reference: `Dispute/${id} #${n}`, baseUrl: ctx.baseUrl, entries, pending }),
    );
    const patient = await this.patientName(tx, c.patient_id);
    const pdf = await renderPdf({
      title: `封存清单 Sealed record inventory (${kind === 'seal' ? '封存' : '补充封存 supplement'})`,
      reference: `Dispute ${id} #${n}`,
      stamp: `${this.policy.hospitalName} 封存 SEALED`,
      footerHash: digest,
      createdAt: now,
      author: ctx.actor.practitioner,
      sections: [caseSection(c, patient, witnesses, now, digest, bundle.sha256), inventorySection(lines, pending), ...entries.map((e) => resourceSection(e.resource))],
    });
    await tx.query(
      `INSERT INTO dispute_copy (dispute_id, copy_no, kind, created_at, created_by, witnesses, inventory_sha256, bundle, bundle_sha256, pdf, pdf_sha256, pages)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [id, n, kind, now, ctx.actor.id, JSON.stringify(witnesses), digest, bundle.text, bundle.sha256, pdf.bytes, pdf.sha256, pdf.pages],
    );
    ctx.audit?.concerns([c.patient_id]);
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
   * Every record in scope, locked: the encounters and what belongs to them (encounter/context),
   * for a whole record also the rest of the patient's compartment; and the Provenance (signatures)
   * of any of them. The Patient resource itself (the master index, kept by registration) is not sealed.
   */
  private async scopedRecords(q: Queryable, c: CaseRow, encounters: string[]): Promise<ScopedRow[]> {
    const { types, params } = this.compartment.memberParams(this.registry);
    const whole = c.scope.kind === 'whole-record';
    return q.query<ScopedRow>(
      `WITH base AS (
         SELECT 'Encounter'::text AS resource_type, e AS resource_id FROM unnest($1::text[]) e
         UNION SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
          WHERE x.param IN ('encounter', 'context') AND x.target_type = 'Encounter' AND x.target_id = ANY($1::text[])
         UNION SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
          WHERE $2 AND x.target_type = 'Patient' AND x.target_id = $3 AND x.resource_type <> 'Patient'
            AND (x.resource_type, x.param) IN (SELECT * FROM unnest($4::text[], $5::text[]))
       ), signed AS (
         SELECT p.resource_type, p.resource_id FROM fhir_search_reference p JOIN base b ON p.target_type = b.resource_type AND p.target_id = b.resource_id
          WHERE p.resource_type = 'Provenance' AND p.param = 'target'
       )
       SELECT r.resource_type, r.id, r.version_id, r.content FROM fhir_resource r
        WHERE (r.resource_type, r.id) IN (SELECT * FROM base UNION SELECT * FROM signed)
        ORDER BY r.resource_type, r.id FOR UPDATE`,
      [encounters, whole, c.patient_id, types, params],
    );
  }

  private async requireEncountersOf(patient: string, encounters: string[]): Promise<void> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT resource_id AS id FROM fhir_search_reference WHERE resource_type = 'Encounter' AND param IN ('subject', 'patient')
         AND target_type = 'Patient' AND target_id = $1 AND resource_id = ANY($2::text[])`,
      [patient, encounters],
    );
    const found = new Set(rows.map((r) => r.id));
    const missing = encounters.filter((e) => !found.has(e));
    if (missing.length) throw new DisputeError(DisputeErrorCode.Invalid, `Not encounters of Patient/${patient}: ${missing.map((e) => `Encounter/${e}`).join(', ')}`);
  }

  /** Both sides' confirmations (R-40, R-43), or everything missing from them at once. */
  private async bothSides(ctx: FhirContext, body: unknown, witnessHeader: string | undefined, step: 'seal' | 'unseal'): Promise<{ hospital: HospitalWitness & { officer: string }; patient: PatientWitness }> {
    const b = (body ?? {}) as Record<string, unknown>;
    const problems = patientWitnessProblems(b.patientWitness);
    if (!witnessHeader) problems.unshift("X-Witness-Authorization: the hospital side's witness, with their own bearer token");
    if (b.hospitalWitnessConfirmed !== true) problems.push('hospitalWitnessConfirmed: true (the hospital side confirms the inventory)');
    if (problems.length) {
      throw new DisputeError(DisputeErrorCode.ConfirmationMissing, `To ${step}, both sides are present and confirm (R-${step === 'seal' ? '40' : '43'}); missing: ${problems.join('; ')}`);
    }
    const witness = await this.cosigner(witnessHeader, 'witness');
    if (witness.id === ctx.actor.id) throw new DisputeError(DisputeErrorCode.WitnessRejected, 'The hospital side\'s witness is another person than the officer (R-40)');
    return { hospital: { ...hospitalSide(witness), officer: ctx.actor.practitioner }, patient: patientWitness(b.patientWitness) };
  }

  private async cosigner(header: string | undefined, who: 'witness' | 'approver'): Promise<Actor> {
    try {
      return await this.tokens.verifyAuthorization(header);
    } catch {
      throw new DisputeError(DisputeErrorCode.WitnessRejected, `The ${who}'s token does not verify: they authenticate with their own, valid bearer token`);
    }
  }

  private requireList(ctx: FhirContext): void {
    const decision = this.decisions.decideWorkflow(ctx.actor, 'list', 'Dispute');
    ctx.audit?.decided(decision, undefined);
    if (!decision.allowed) throw new DisputeError(DisputeErrorCode.Forbidden, 'Dispute cases are seen by the disputes office and medical affairs (R-40)');
  }

  private async requireCase(id: string): Promise<CaseRow> {
    const [row] = await this.db.query<CaseRow>(`SELECT * FROM dispute WHERE id = $1`, [uuidOr(id)]);
    if (!row) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
    return row;
  }

  private items(q: Queryable, id: string): Promise<ItemRow[]> {
    return q.query<ItemRow>(`SELECT resource_type, resource_id, version_id, status, sha256, copy_no FROM dispute_item WHERE dispute_id = $1 ORDER BY resource_type, resource_id`, [id]);
  }

  private async patientName(q: Queryable, id: string): Promise<string> {
    const [row] = await q.query<{ content: Patient }>(`SELECT content FROM fhir_resource WHERE resource_type = 'Patient' AND id = $1`, [id]);
    const name = row?.content.name?.[0];
    return name?.text ?? [name?.family, ...(name?.given ?? [])].filter(Boolean).join('') ?? '';
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

function hospitalSide(actor: Actor): HospitalWitness {
  return { id: actor.id, practitioner: actor.practitioner, roles: actor.roles, confirmed: true };
}

function line(i: ItemRow): InventoryLine {
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
      `清单摘要 Inventory SHA-256: ${digest}`,
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      '医方签字 Hospital signature: ____________    患方签字 Patient-side signature: ____________',
    ],
  };
}

function inventorySection(lines: readonly InventoryLine[], pending: readonly string[]): PdfSection {
  return {
    heading: `封存清单 Inventory (${lines.length} sealed, ${pending.length} pending)`,
    lines: [...lines.map((l) => `${l.type}/${l.id} v${l.version} SHA-256 ${l.sha256}`), ...pending.map((p) => `待补充封存 pending: ${p}`)],
  };
}

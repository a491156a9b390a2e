import { Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import type { Patient, Resource } from '@medplum/fhirtypes';
import type { DisclosedVersion } from '../audit/domain/audit-entry.js';
import { AuditWriteJournal } from '../audit/audit-write-journal.js';
import { Clock } from '../common/clock.js';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import { documentStatus, isSigned, SIGNED_STATUSES } from '../governance/domain/document.js';
import { contentSha256 } from '../governance/domain/ledger.js';
import { renderPdf, type PdfSection } from '../copies/pdf-renderer.js';
import { resourceSection } from '../copies/resource-text.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import { canonicalBundle, documentBundle } from '../copies/document-bundle.js';
import { encountersNotOf, patientName } from './patient-record.js';
import { EVIDENCE_KINDS, missingEvidence, parseCopyRequest, sameIdentity, sniffEvidenceType, type CopyScope, type EvidenceKind, type Requester, type RequesterType } from './domain/copy-request.js';
import { copyRefusal, separationBreach, type JudgedVersion } from './domain/release-rules.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

type Status = 'received' | 'verified' | 'approved' | 'refused' | 'produced' | 'partially-delivered' | 'delivered' | 'closed';

interface RequestRow {
  id: string;
  patient_id: string;
  requester_type: RequesterType;
  requester: Requester;
  purpose: string;
  scope: CopyScope;
  status: Status;
  received_by: string;
  received_at: Date;
  closed_at: Date | null;
  events: CopyEvent[];
}

/** One step of a request's life (R-34). */
export interface CopyEvent {
  at: string;
  by: string;
  step: 'received' | 'evidence' | 'verified' | 'approved' | 'refused' | 'produced' | 'delivered' | 'closed';
  [detail: string]: unknown;
}

/** One copied version (R-32: pinned) and its hash. */
export interface ManifestLine {
  type: string;
  id: string;
  version: number;
  sha256: string;
  documentType: string;
}

/** A document of the scope not copied: unfinished (R-32) or not copyable for a requester (R-31). */
export interface LeftOut {
  ref: string;
  documentType?: string;
  reason: string;
}

export interface ProductionView {
  n: number;
  createdAt: string;
  createdBy: string;
  manifest: ManifestLine[];
  pending: LeftOut[];
  excluded: LeftOut[];
  bundleSha256: string;
  pdfSha256: string;
  pages: number;
  pdf: string;
  json: string;
}

export interface CopyRequestView {
  id: string;
  patient: string;
  requesterType: RequesterType;
  requester: Requester;
  purpose: string;
  scope: CopyScope;
  status: Status;
  receivedBy: string;
  receivedAt: string;
  closedAt?: string;
  checklist: { required: string[]; presented: string[]; missing: string[] };
  evidence: { id: string; proves: string; filename?: string; contentType: string; size: number; sha256: string; uploadedAt: string }[];
  productions: ProductionView[];
  events: CopyEvent[];
}

/** What a production copies, from the patient's governed documents in scope. */
interface Candidate {
  resource: Resource;
  version: number;
}

/**
 * The record room's release of information (R-30…R-34): a request is received with who asks
 * and why, the documents they present are kept with their hashes, checked against the
 * requester type's checklist (policy data), approved or refused with a reason, produced from
 * objective, completed documents pinned to their versions (a certified PDF stamped on every
 * page, and a hash-sealed FHIR document Bundle), and delivered to the requester, identity
 * checked again. Unfinished documents are listed as pending and produced later.
 */
@Injectable()
export class CopyRequestsService {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly clock: Clock,
    private readonly types: DocumentTypes,
    private readonly journal: AuditWriteJournal,
  ) {}

  async create(ctx: FhirContext, body: unknown): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'request');
    const input = parseCopyRequest(body);
    const stored = (await this.access.requireStored(ctx, 'copy', { type: 'Patient', id: input.patient }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    // R-30: a deceased patient's record is asked for by the heirs; a living patient's by the patient or their agent.
    const patient = JSON.parse(stored.json) as Patient;
    const deceased = patient.deceasedBoolean === true || Boolean(patient.deceasedDateTime);
    if (deceased && (input.requesterType === 'patient' || input.requesterType === 'agent')) {
      throw new ReleaseError(ReleaseErrorCode.RequesterMismatch, `Patient/${input.patient} is recorded as deceased: the copy is asked for by a legal heir (heir or heir-agent), not as ${input.requesterType} (R-30)`);
    }
    if (!deceased && (input.requesterType === 'heir' || input.requesterType === 'heir-agent')) {
      throw new ReleaseError(ReleaseErrorCode.RequesterMismatch, `Patient/${input.patient} is not recorded as deceased: heirs ask only for a deceased patient's record; a living patient asks, or their agent (R-30)`);
    }
    for (const code of input.scope.documentTypes ?? []) {
      if (!this.types.get(code)) throw new ReleaseError(ReleaseErrorCode.Invalid, `scope.documentTypes: "${code}" is not a document type (${this.types.all().map((t) => t.code).join(', ')})`);
    }
    const subjective = (input.scope.documentTypes ?? []).filter((c) => this.types.get(c)?.objectivity === 'subjective');
    if (subjective.length) {
      throw new ReleaseError(
        ReleaseErrorCode.SubjectiveRefused,
        `${subjective.join(', ')} ${subjective.length > 1 ? 'are' : 'is'} subjective: progress notes, discussions, rounds and consultation opinions are not copied for requesters (R-31); in a dispute they are sealed instead`,
      );
    }
    const foreign = input.scope.encounters?.length ? await encountersNotOf(this.db, input.patient, input.scope.encounters) : [];
    if (foreign.length) throw new ReleaseError(ReleaseErrorCode.Invalid, `Not encounters of Patient/${input.patient}: ${foreign.map((e) => `Encounter/${e}`).join(', ')}`);
    const id = randomUUID();
    const now = this.clock.now();
    await this.db.query(
      `INSERT INTO copy_request (id, patient_id, requester_type, requester, purpose, scope, status, received_by, received_at, events, policy_version)
       VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10)`,
      [id, input.patient, input.requesterType, JSON.stringify(input.requester), input.purpose, JSON.stringify(input.scope), ctx.actor.id, now,
        JSON.stringify([{ at: now.toISOString(), by: ctx.actor.id, step: 'received', requesterType: input.requesterType }]), this.policy.version],
    );
    return this.view(ctx, id);
  }

  /** Keeps one presented document (PDF, JPEG or PNG, recognised by its bytes) with its SHA-256 and what it proves. */
  async addEvidence(ctx: FhirContext, id: string, proves: string | undefined, filename: string | undefined, declared: string | undefined, bytes: unknown): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'request');
    const row = await this.requireRequest(ctx, id);
    if (!proves || !EVIDENCE_KINDS.includes(proves as EvidenceKind)) throw new ReleaseError(ReleaseErrorCode.Invalid, `proves=: one of ${EVIDENCE_KINDS.join(', ')}`);
    if (row.status !== 'received' && row.status !== 'verified') throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${row.status}: evidence is added before approval`);
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) throw new ReleaseError(ReleaseErrorCode.Invalid, 'The evidence file is the request body (Content-Type application/pdf, image/jpeg or image/png)');
    const type = sniffEvidenceType(bytes);
    if (!type || (declared && declared !== 'application/octet-stream' && declared !== type)) {
      throw new ReleaseError(ReleaseErrorCode.EvidenceType, `Evidence is a PDF, JPEG or PNG file${type ? `; this file is ${type}, sent as ${declared}` : '; this file is none of them'}`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const now = this.clock.now();
    const evidenceId = randomUUID();
    await this.db.transaction(async (tx) => {
      await this.lockRequest(tx, id, ['received', 'verified'], 'evidence is added before approval');
      await tx.query(
        `INSERT INTO copy_evidence (id, request_id, proves, filename, content_type, size, sha256, content, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [evidenceId, id, proves, filename?.slice(0, 255) ?? null, type, bytes.length, sha256, bytes, ctx.actor.id, now],
      );
      await this.event(tx, id, { at: now.toISOString(), by: ctx.actor.id, step: 'evidence', evidence: evidenceId, proves, sha256 });
    });
    return this.view(ctx, id);
  }

  /** The record-room officer checks the evidence against the requester type's checklist (R-30) and the person's identity. */
  async verify(ctx: FhirContext, id: string, body: unknown): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'request');
    const row = await this.requireRequest(ctx, id);
    if (row.status !== 'received') throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${row.status}, not waiting for its documents to be checked`);
    const evidence = await this.evidenceOf(id);
    const missing = missingEvidence(this.policy.copyChecklist(row.requester_type), evidence.map((e) => e.proves));
    const b = (body ?? {}) as Record<string, unknown>;
    if (b.identityChecked !== true) missing.push('identityChecked: true (the officer compared the ID presented with the person)');
    if (missing.length) {
      throw new ReleaseError(ReleaseErrorCode.EvidenceMissing, `A ${row.requester_type} request needs (R-30): ${missing.join('; ')}`);
    }
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      await this.lockRequest(tx, id, ['received'], 'not waiting for its documents to be checked');
      await tx.query(`UPDATE copy_request SET status = 'verified' WHERE id = $1`, [id]);
      await this.event(tx, id, { at: now.toISOString(), by: ctx.actor.id, step: 'verified', evidence: evidence.map((e) => ({ id: e.id, proves: e.proves, sha256: e.sha256 })) });
    });
    return this.view(ctx, id);
  }

  async decide(ctx: FhirContext, id: string, approve: boolean, body: unknown): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'approve');
    const row = await this.requireRequest(ctx, id);
    const note = typeof (body as { reason?: unknown } | undefined)?.reason === 'string' ? (body as { reason: string }).reason.trim() : '';
    if (!approve && !note) throw new ReleaseError(ReleaseErrorCode.Invalid, 'A refusal says why: send {"reason": "…"} (R-34)');
    const allowed: Status[] = approve ? ['verified'] : ['received', 'verified'];
    if (!allowed.includes(row.status)) throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${row.status}; ${approve ? 'only a checked request is approved' : 'it can no longer be refused'}`);
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      const fresh = await this.lockRequest(tx, id, allowed, approve ? 'only a checked request is approved' : 'it can no longer be refused');
      // Read under the lock: who received and verified cannot change once the request is verified.
      if (approve) this.requireSeparateApprover(ctx, fresh);
      await tx.query(`UPDATE copy_request SET status = $2, closed_at = $3 WHERE id = $1`, [id, approve ? 'approved' : 'refused', approve ? null : now]);
      await this.event(tx, id, { at: now.toISOString(), by: ctx.actor.id, step: approve ? 'approved' : 'refused', ...(note ? { reason: note } : {}) });
    });
    return this.view(ctx, id);
  }

  /**
   * Produces a copy (R-31…R-33) of what is complete and not produced yet: objective documents
   * only, signed, each allowed to the officer by the access policy, pinned to their current versions; unfinished ones are listed as pending and a
   * later `produce` copies them once signed. A disclosure (lifecycle `disclose`) of the patient.
   */
  async produce(ctx: FhirContext, id: string): Promise<ProductionView> {
    this.requireRecordRoom(ctx, 'request');
    const row = await this.requireRequest(ctx, id);
    const producible: Status[] = ['approved', 'produced', 'partially-delivered'];
    if (!producible.includes(row.status)) throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${row.status}: a copy is produced once the request is approved`);
    await this.access.requireStored(ctx, 'copy', { type: 'Patient', id: row.patient_id }, this.store, { hideExistence: true });
    // The policy decides each document for the officer before the transaction (the checks use
    // the pool; the transaction holds one connection), version by version: a confidentiality label
    // their rule does not cover, a record withheld by a public incident (R-44), or a version that
    // is not the patient's record any more, is left out with its reason.
    const judged = new Map<string, string | undefined>();
    for (const c of await this.candidates(this.db, row)) {
      // Read as the current version: the pinned version and the current one are the same here.
      judged.set(versionRef(c.resource, c.version), await this.refusalOf(ctx, row.patient_id, c.resource, c.resource));
    }
    const n = await this.db.transaction(async (tx) => {
      // One step at a time per request: state, copy number and "already produced" are read under the lock.
      await this.lockRequest(tx, id, producible, 'a copy is produced once the request is approved');
      const produced = new Set((await tx.query<{ ref: string }>(`SELECT m ->> 'type' || '/' || (m ->> 'id') AS ref FROM copy_production p, jsonb_array_elements(p.manifest) m WHERE p.request_id = $1`, [id])).map((r) => r.ref));
      const manifest: ManifestLine[] = [];
      const included: Resource[] = [];
      const pending: LeftOut[] = [];
      const excluded: LeftOut[] = [];
      for (const c of await this.candidates(tx, row)) {
        const ref = `${c.resource.resourceType}/${c.resource.id}`;
        if (produced.has(ref)) continue;
        // A document that appeared or changed since the checks above was not judged at this version: left out, never copied unchecked.
        const pinned = versionRef(c.resource, c.version);
        if (!judged.has(pinned)) {
          excluded.push({ ref, reason: `version ${c.version} was written while this copy was being made, after the access checks: produce again to copy it` });
          continue;
        }
        const refusal = judged.get(pinned);
        if (refusal) {
          excluded.push({ ref, reason: refusal });
          continue;
        }
        const types = this.types.classifyAll(c.resource);
        if (types.length === 0) {
          excluded.push({ ref, reason: 'document type not known: only documents known to be objective are copied (R-31)' });
          continue;
        }
        if (row.scope.documentTypes && !types.some((t) => row.scope.documentTypes?.includes(t.code))) continue;
        // Coded as subjective anywhere (type or category), it is not copied, whatever else it is coded as.
        const subjective = types.find((t) => t.objectivity === 'subjective');
        if (subjective) {
          excluded.push({ ref, documentType: subjective.code, reason: `${subjective.display} is subjective: not copied for requesters (R-31)` });
          continue;
        }
        const type = types[0];
        const status = documentStatus(c.resource);
        if (status === 'entered-in-error') continue;
        if (!isSigned(c.resource)) {
          pending.push({ ref, documentType: type.code, reason: `not completed (${status ?? 'no status'}${SIGNED_STATUSES.includes(status ?? '') ? ', no legal attester' : ''}): produced once signed (R-32, R-13)` });
          continue;
        }
        const sha256 = contentSha256(c.resource);
        manifest.push({ type: c.resource.resourceType, id: c.resource.id as string, version: c.version, sha256, documentType: type.code });
        included.push(c.resource);
      }
      if (manifest.length === 0) {
        throw new ReleaseError(
          ReleaseErrorCode.NothingToProduce,
          `Nothing of copy request ${id} is ready to copy${pending.length ? `; pending until signed (R-32): ${pending.map((p) => p.ref).join(', ')}` : produced.size ? ': everything completed was produced already' : ': no objective, completed document in scope'}`,
        );
      }
      const [{ next }] = await tx.query<{ next: number }>(`SELECT coalesce(max(copy_no), 0)::int + 1 AS next FROM copy_production WHERE request_id = $1`, [id]);
      const now = this.clock.now();
      const bundle = canonicalBundle(
        documentBundle({
          title: '病历复印件 Certified copy of medical records',
          patient: row.patient_id,
          author: ctx.actor.practitioner,
          date: now,
          reference: `CopyRequest/${id} #${next}`,
          baseUrl: ctx.baseUrl,
          entries: included.map((resource, i) => ({ resource, sha256: manifest[i].sha256 })),
          pending: pending.map((p) => p.ref),
        }),
      );
      const pdf = await renderPdf({
        title: '病历复印件 Certified copy of medical records',
        reference: `CopyRequest ${id} #${next}`,
        stamp: `${this.policy.hospitalName} 病案管理专用章`,
        footerHash: bundle.sha256,
        createdAt: now,
        author: ctx.actor.practitioner,
        sections: [requestSection(row, await patientName(tx, row.patient_id), now, bundle.sha256), manifestSection(manifest, pending), ...included.map((r) => resourceSection(r))],
      });
      await tx.query(
        `INSERT INTO copy_production (request_id, copy_no, created_at, created_by, manifest, pending, excluded, bundle, bundle_sha256, pdf, pdf_sha256, pages)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [id, next, now, ctx.actor.id, JSON.stringify(manifest), JSON.stringify(pending), JSON.stringify(excluded), bundle.text, bundle.sha256, pdf.bytes, pdf.sha256, pdf.pages],
      );
      await tx.query(`UPDATE copy_request SET status = 'produced' WHERE id = $1`, [id]);
      // The disclosure's entry commits with the copy (R-20, R-51), naming every version it holds (R-34).
      ctx.audit?.as({ disclosed: disclosedOf(manifest) });
      await this.journal.recordStep(ctx, row.patient_id, 201, tx);
      await this.event(tx, id, { at: now.toISOString(), by: ctx.actor.id, step: 'produced', copy: next, versions: manifest.map((m) => `${m.type}/${m.id}/_history/${m.version}`), pending: pending.map((p) => p.ref), bundleSha256: bundle.sha256, pdfSha256: pdf.sha256 });
      return next;
    });
    ctx.audit?.concerns([row.patient_id]);
    const view = await this.view(ctx, id);
    return view.productions.find((p) => p.n === n) as ProductionView;
  }

  /** Hands the copies to the requester, identity checked again (R-33, R-34); the request closes unless parts are pending. */
  async deliver(ctx: FhirContext, id: string, body: unknown): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'request');
    const row = await this.requireRequest(ctx, id);
    if (row.status !== 'produced') throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${row.status}: nothing produced waits for delivery`);
    const b = (body ?? {}) as { recipient?: { name?: unknown; idNumber?: unknown }; identityChecked?: unknown; method?: unknown; requesterChecked?: unknown };
    const problems: string[] = [];
    if (!b.recipient || typeof b.recipient.name !== 'string' || !b.recipient.name.trim()) problems.push('recipient.name');
    if (!b.recipient || typeof b.recipient.idNumber !== 'string' || !b.recipient.idNumber.trim()) problems.push('recipient.idNumber');
    if (b.identityChecked !== true) problems.push('identityChecked: true (the ID was checked again at delivery)');
    if (b.requesterChecked !== true) problems.push('requesterChecked: true (the requester checked the copy, R-33)');
    const method = b.method ?? 'in-person';
    if (!['in-person', 'mail', 'electronic'].includes(method as string)) problems.push('method: in-person, mail or electronic');
    if (problems.length) throw new ReleaseError(ReleaseErrorCode.Invalid, `A delivery names: ${problems.join('; ')}`);
    const recipient = b.recipient as { name: string; idNumber: string };
    if (!sameIdentity(row.requester, recipient)) {
      throw new ReleaseError(ReleaseErrorCode.RecipientMismatch, `The copy is handed to the requester identified at the desk (${row.requester.name}); ${recipient.name} presents another ID number`);
    }
    const undelivered = (await this.db.query<{ copy_no: number }>(`SELECT copy_no FROM copy_production WHERE request_id = $1 ORDER BY copy_no`, [id]))
      .map((c) => c.copy_no)
      .filter((n) => !row.events.some((e) => e.step === 'delivered' && (e.copies as number[]).includes(n)));
    await this.requireStillCopyable(ctx, id, undelivered);
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      const fresh = await this.lockRequest(tx, id, ['produced'], 'nothing produced waits for delivery');
      const copies = await tx.query<{ copy_no: number; pages: number; pending: LeftOut[] }>(`SELECT copy_no, pages, pending FROM copy_production WHERE request_id = $1 ORDER BY copy_no`, [id]);
      const delivered = new Set(fresh.events.filter((e) => e.step === 'delivered').flatMap((e) => e.copies as number[]));
      const handed = copies.filter((c) => !delivered.has(c.copy_no));
      // A copy produced between the check above and this lock was not checked: deliver again.
      if (handed.some((c) => !undelivered.includes(c.copy_no))) {
        throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id}: a copy was produced while this delivery was being prepared; deliver again`);
      }
      const pendingLeft = (copies.at(-1)?.pending ?? []).length > 0;
      ctx.audit?.as({ disclosed: disclosedOf(await this.manifestOf(tx, id, handed.map((c) => c.copy_no))) });
      await tx.query(`UPDATE copy_request SET status = $2, closed_at = $3 WHERE id = $1`, [id, pendingLeft ? 'partially-delivered' : 'delivered', pendingLeft ? null : now]);
      await this.journal.recordStep(ctx, row.patient_id, 200, tx);
      await this.event(tx, id, {
        at: now.toISOString(),
        by: ctx.actor.id,
        step: 'delivered',
        to: { name: recipient.name.trim(), idNumber: recipient.idNumber.trim() },
        method,
        copies: handed.map((c) => c.copy_no),
        pages: handed.reduce((sum, c) => sum + c.pages, 0),
      });
    });
    ctx.audit?.concerns([row.patient_id]);
    return this.view(ctx, id);
  }

  /**
   * Closes an open request with a reason (R-34): the requester withdrew, or the pending parts
   * will not be completed (withdrawn, never signed). What was produced and delivered stays.
   */
  async close(ctx: FhirContext, id: string, body: unknown): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'request');
    await this.requireRequest(ctx, id);
    const reason = typeof (body as { reason?: unknown } | undefined)?.reason === 'string' ? (body as { reason: string }).reason.trim() : '';
    if (!reason) throw new ReleaseError(ReleaseErrorCode.Invalid, 'Closing a request says why: send {"reason": "…"} (R-34)');
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      await this.lockRequest(tx, id, ['received', 'verified', 'approved', 'produced', 'partially-delivered'], 'it is closed already');
      await tx.query(`UPDATE copy_request SET status = 'closed', closed_at = $2 WHERE id = $1`, [id, now]);
      await this.event(tx, id, { at: now.toISOString(), by: ctx.actor.id, step: 'closed', reason });
    });
    return this.view(ctx, id);
  }

  async get(ctx: FhirContext, id: string): Promise<CopyRequestView> {
    this.requireRecordRoom(ctx, 'list');
    await this.requireRequest(ctx, id);
    return this.view(ctx, id);
  }

  /** The record room's queue: `?status=&patient=`, oldest first. */
  async list(ctx: FhirContext, status: string | undefined, patient: string | undefined): Promise<CopyRequestView[]> {
    this.requireRecordRoom(ctx, 'list');
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM copy_request WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR patient_id = $2) ORDER BY received_at LIMIT 200`,
      [status ?? null, patient?.replace(/^Patient\//, '') ?? null],
    );
    return Promise.all(rows.map((r) => this.view(ctx, r.id)));
  }

  /** A produced copy exactly as produced: the certified PDF or the electronic Bundle. */
  async copy(ctx: FhirContext, id: string, n: number, format: 'pdf' | 'json'): Promise<{ body: Buffer | string; sha256: string }> {
    this.requireRecordRoom(ctx, 'list');
    const row = await this.requireRequest(ctx, id);
    ctx.audit?.concerns([row.patient_id]);
    const [copy] = await this.db.query<{ pdf: Buffer; bundle: string; pdf_sha256: string; bundle_sha256: string }>(
      `SELECT pdf, bundle, pdf_sha256, bundle_sha256 FROM copy_production WHERE request_id = $1 AND copy_no = $2`,
      [id, n],
    );
    if (!copy) throw new ReleaseError(ReleaseErrorCode.NotFound, `Copy request ${id} has no copy ${n}`);
    await this.requireStillCopyable(ctx, id, [n]);
    ctx.audit?.as({ disclosed: disclosedOf(await this.manifestOf(this.db, id, [n])) });
    return format === 'pdf' ? { body: copy.pdf, sha256: copy.pdf_sha256 } : { body: copy.bundle, sha256: copy.bundle_sha256 };
  }

  /** The patient's governed documents in scope (encounters if named), current versions. */
  private candidates(q: Queryable, row: RequestRow): Promise<Candidate[]> {
    return q.query<Candidate>(
      `SELECT r.content AS resource, r.version_id AS version FROM fhir_resource r
        WHERE r.resource_type = ANY($1::text[])
          AND EXISTS (SELECT 1 FROM fhir_search_reference s WHERE s.resource_type = r.resource_type AND s.resource_id = r.id
                        AND s.param IN ('subject', 'patient') AND s.target_type = 'Patient' AND s.target_id = $2)
          AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM fhir_search_reference e WHERE e.resource_type = r.resource_type AND e.resource_id = r.id
                        AND e.param IN ('encounter', 'context') AND e.target_type = 'Encounter' AND e.target_id = ANY($3::text[])))
        ORDER BY r.last_updated, r.resource_type, r.id`,
      [this.policy.governedResources, row.patient_id, row.scope.encounters?.length ? row.scope.encounters : null],
    );
  }

  private requireRecordRoom(ctx: FhirContext, action: 'request' | 'approve' | 'list'): void {
    const decision = this.decisions.decideWorkflow(ctx.actor, action, 'CopyRequest');
    ctx.audit?.decided(decision, undefined);
    if (!decision.allowed) throw new ReleaseError(ReleaseErrorCode.Forbidden, `Copy requests are handled by the record room (policy: ${action} on CopyRequest)`);
  }

  private async requireRequest(ctx: FhirContext, id: string): Promise<RequestRow> {
    const [row] = await this.db.query<RequestRow>(`SELECT * FROM copy_request WHERE id = $1`, [uuidOr(id)]);
    if (!row) throw new ReleaseError(ReleaseErrorCode.NotFound, `Copy request ${id} is not known`);
    ctx.audit?.concerns([row.patient_id]);
    return row;
  }

  /** Locks the request for one step and checks, under the lock, that it is in a state the step needs (two clicks, two officers: one wins, the other gets 409). */
  private async lockRequest(tx: Queryable, id: string, allowed: readonly Status[], what: string): Promise<RequestRow> {
    const [row] = await tx.query<RequestRow>(`SELECT * FROM copy_request WHERE id = $1 FOR UPDATE`, [id]);
    if (!row || !allowed.includes(row.status)) throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${row?.status ?? 'unknown'}: ${what}`);
    return row;
  }

  /**
   * A produced copy is handed out (delivered, or its file read) only while the office may still
   * copy every version it holds under the version rule: a public incident sealed since (R-44), a
   * label added to a later version (R-07), a record moved to another patient (R-30). One such
   * version and the whole copy stays in (a stamped PDF is not handed out in part); each is named.
   */
  private async requireStillCopyable(ctx: FhirContext, id: string, copyNos: readonly number[]): Promise<void> {
    const [request] = await this.db.query<{ patient_id: string }>(`SELECT patient_id FROM copy_request WHERE id = $1`, [id]);
    const lines = await this.manifestOf(this.db, id, copyNos);
    const refused: string[] = [];
    for (const l of lines) {
      const pinned = await this.store.vread(l.type, l.id, String(l.version));
      const reason = await this.refusalOf(ctx, request.patient_id, pinned);
      if (reason) refused.push(`copy ${l.copy_no} holds ${l.type}/${l.id}/_history/${l.version}: ${reason}`);
    }
    if (refused.length) {
      throw new ReleaseError(
        ReleaseErrorCode.Withheld,
        `Copy request ${id}: this office may no longer hand out what it copied, so nothing is handed out; ${refused.join('; ')}`,
      );
    }
  }

  /** The manifest lines of the given copies of a request, in copy and manifest order. */
  private manifestOf(q: Queryable, id: string, copyNos: readonly number[]): Promise<(ManifestLine & { copy_no: number })[]> {
    return q.query<ManifestLine & { copy_no: number }>(
      `SELECT p.copy_no, m.type, m.id, m.version, m.sha256, m."documentType" FROM copy_production p
         CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(p.manifest) AS (type text, id text, version int, sha256 text, "documentType" text))
                            WITH ORDINALITY AS m(type, id, version, sha256, "documentType", n)
        WHERE p.request_id = $1 AND p.copy_no = ANY($2::int[]) ORDER BY p.copy_no, m.n`,
      [id, copyNos],
    );
  }

  /**
   * The version rule for copies (issue #12 item 1, R-07, R-30): why a copy for `patient` may not
   * hold `pinned`, judged by the policy's `copy` on that version's own facts and on the current
   * version's facts, each also the patient's record; undefined when it may.
   */
  private async refusalOf(ctx: FhirContext, patient: string, pinned: Resource, current?: Resource): Promise<string | undefined> {
    const type = pinned.resourceType;
    const options = this.access.factOptionsFor(ctx, 'copy', type);
    const judge = async (version: Resource): Promise<JudgedVersion> => {
      const facts = await this.store.accessFactsOf(version, options);
      const decision = await this.decisions.decide(ctx.actor, 'copy', facts);
      return { version: version.meta?.versionId ?? '?', patient: facts.patient, allowed: decision.allowed, rule: decision.rule };
    };
    const now = current ?? (await this.store.read(type, pinned.id as string));
    const judgedPinned = await judge(pinned);
    const judgedCurrent = now.meta?.versionId === pinned.meta?.versionId ? judgedPinned : await judge(now);
    return copyRefusal(patient, judgedPinned, judgedCurrent);
  }

  /** R-34: with the policy's separation of duties (default on), the approver neither received nor verified the request. */
  private requireSeparateApprover(ctx: FhirContext, row: RequestRow): void {
    if (!this.policy.copySeparationOfDuties) return;
    const verifiedBy = row.events.findLast((e) => e.step === 'verified')?.by;
    const breach = separationBreach(ctx.actor.id, { receivedBy: row.received_by, verifiedBy });
    if (!breach) return;
    // The refusal is the policy's: the trail records the setting that refused, against the patient.
    ctx.audit?.decided({ allowed: false, rule: 'copyRequests.separationOfDuties', policyVersion: this.policy.version }, row.patient_id);
    throw new ReleaseError(
      ReleaseErrorCode.SeparationOfDuties,
      `Copy request ${row.id}: ${breach}; ` +
        'under separation of duties (policy copyRequests.separationOfDuties) another clerk of the record room approves it (R-34)',
    );
  }

  private async evidenceOf(id: string) {
    return this.db.query<{ id: string; proves: string; filename: string | null; content_type: string; size: number; sha256: string; uploaded_at: Date }>(
      `SELECT id, proves, filename, content_type, size, sha256, uploaded_at FROM copy_evidence WHERE request_id = $1 ORDER BY uploaded_at, id`,
      [id],
    );
  }

  private event(q: Queryable, id: string, event: CopyEvent): Promise<unknown> {
    return q.query(`UPDATE copy_request SET events = events || $2::jsonb WHERE id = $1`, [id, JSON.stringify([event])]);
  }

  private async view(ctx: FhirContext, id: string): Promise<CopyRequestView> {
    const [r] = await this.db.query<RequestRow>(`SELECT * FROM copy_request WHERE id = $1`, [id]);
    const evidence = await this.evidenceOf(id);
    const productions = await this.db.query<{ copy_no: number; created_at: Date; created_by: string; manifest: ManifestLine[]; pending: LeftOut[]; excluded: LeftOut[]; bundle_sha256: string; pdf_sha256: string; pages: number }>(
      `SELECT copy_no, created_at, created_by, manifest, pending, excluded, bundle_sha256, pdf_sha256, pages FROM copy_production WHERE request_id = $1 ORDER BY copy_no`,
      [id],
    );
    const base = ctx.baseUrl.replace(/\/fhir$/, '');
    const checklist = this.policy.copyChecklist(r.requester_type);
    const presented = [...new Set(evidence.map((e) => e.proves))];
    return {
      id: r.id,
      patient: r.patient_id,
      requesterType: r.requester_type,
      requester: r.requester,
      purpose: r.purpose,
      scope: r.scope,
      status: r.status,
      receivedBy: r.received_by,
      receivedAt: r.received_at.toISOString(),
      ...(r.closed_at ? { closedAt: r.closed_at.toISOString() } : {}),
      checklist: { required: checklist.map((i) => (typeof i === 'string' ? i : i.join(' or '))), presented, missing: missingEvidence(checklist, presented) },
      evidence: evidence.map((e) => ({ id: e.id, proves: e.proves, ...(e.filename ? { filename: e.filename } : {}), contentType: e.content_type, size: e.size, sha256: e.sha256, uploadedAt: e.uploaded_at.toISOString() })),
      productions: productions.map((p) => ({
        n: p.copy_no,
        createdAt: p.created_at.toISOString(),
        createdBy: p.created_by,
        manifest: p.manifest,
        pending: p.pending,
        excluded: p.excluded,
        bundleSha256: p.bundle_sha256,
        pdfSha256: p.pdf_sha256,
        pages: p.pages,
        pdf: `${base}/copy-requests/${id}/copies/${p.copy_no}.pdf`,
        json: `${base}/copy-requests/${id}/copies/${p.copy_no}.json`,
      })),
      events: r.events,
    };
  }
}

const REQUESTER_LABELS: Record<RequesterType, string> = {
  patient: '患者本人 patient',
  agent: '患者代理人 agent',
  heir: '死亡患者法定继承人/近亲属 heir',
  'heir-agent': '继承人代理人 heir\'s agent',
  police: '公安机关 police',
  court: '人民法院 court',
  'social-insurance': '社会保险经办机构 social insurance',
  'malpractice-assessment': '医疗事故鉴定机构 malpractice assessment',
  'commercial-insurer': '商业保险机构 commercial insurer',
};

function requestSection(r: RequestRow, patientName: string, at: Date, bundleSha: string): PdfSection {
  return {
    heading: '复印申请 Request',
    lines: [
      `申请编号 Request: ${r.id}`,
      `患者 Patient: ${patientName} (Patient/${r.patient_id})`,
      `申请人 Requester: ${r.requester.name} · ${REQUESTER_LABELS[r.requester_type]}${r.requester.organization ? ` · ${r.requester.organization}` : ''}`,
      `用途 Purpose: ${r.purpose}`,
      `复印时间 Produced: ${at.toISOString()}`,
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      '申请人核对签字 Checked by the requester: ____________',
    ],
  };
}

function manifestSection(manifest: readonly ManifestLine[], pending: readonly LeftOut[]): PdfSection {
  return {
    heading: `复印清单 Manifest (${manifest.length} documents${pending.length ? `, ${pending.length} pending` : ''})`,
    lines: [...manifest.map((m) => `${m.documentType}: ${m.type}/${m.id} v${m.version} SHA-256 ${m.sha256}`), ...pending.map((p) => `待完成 pending: ${p.ref} (${p.documentType})`)],
  };
}

/** `Type/id/_history/v` of a candidate version: what the checks before a production judged. */
function versionRef(resource: Resource, version: number | string): string {
  return `${resource.resourceType}/${resource.id}/_history/${version}`;
}

/** The versions a copy holds, as the audit trail names what was disclosed (R-20, R-34). */
function disclosedOf(manifest: readonly ManifestLine[]): DisclosedVersion[] {
  return manifest.map((m) => ({ type: m.type, id: m.id, version: String(m.version) }));
}

import { Injectable } from '@nestjs/common';
import type { Coding, Composition, DocumentReference, Provenance, Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import type { FhirResponse } from '../fhir/fhir-response.js';
import { WriteChain } from '../fhir/write-chain.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';
import { ArchiveService } from './archive.service.js';
import { departmentToList } from './department-lists.js';
import { CLOSED_STATUSES, documentStatus } from '../policy/domain/document-status.js';
import { subjectPatient } from './domain/document.js';
import { LedgerReadsRepository, type FirstEntry } from './ledger-reads.repository.js';
import type { RecordRef } from '../store/patient-record-index.port.js';

/** ASTM E1762 signature types (R4 signature-type value set). */
export const AUTHOR_SIGNATURE = { system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1', display: "Author's Signature" };
export const VERIFICATION_SIGNATURE = { system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.5', display: 'Verification Signature' };
const VERIFIER = { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'verifier', display: 'Verifier' };
const LEGAL_AUTHENTICATOR = { system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'LA', display: 'legal authenticator' };
const AUTHOR = { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' };

/** Licence statuses whose documents stay provisional until a licensed physician co-signs them (R-14). */
export const PROVISIONAL = ['intern', 'probation', 'visiting'];
const PROVISIONAL_SET = new Set(PROVISIONAL);
/** The co-signature queue lists at most this many documents, the longest waiting first. */
const PENDING_COSIGN_LIMIT = 500;
const WHO: Record<string, string> = { intern: 'an intern', probation: 'a physician on probation', visiting: 'a visiting doctor not yet approved' };

/** A document waiting for a co-signature, as `GET /governance/pending-cosign` lists it. */
export interface PendingCosign {
  document: string;
  docType?: string;
  title?: string;
  authors: string[];
  /** Who wrote it, their licence, and when (the first version). */
  writtenBy: string;
  licence: string;
  written: string;
  waitingHours: number;
}

type Document = Composition | DocumentReference;

/**
 * `$sign` (R-13): the author confirms a document. It becomes final, shows who signed and
 * when (Composition.attester `legal` / DocumentReference.authenticator), and a Provenance
 * (activity LA, the author as agent, an ASTM author's signature with signer and time) is
 * stored with it in one transaction, with their ledger and audit entries.
 */
@Injectable()
export class SigningService {
  constructor(
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly chain: WriteChain,
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly clock: Clock,
    private readonly ledger: LedgerReadsRepository,
    private readonly decisions: AccessPolicyService,
    private readonly archives: ArchiveService,
  ) {}

  async sign(ctx: FhirContext, type: string, id: string): Promise<FhirResponse> {
    const { doc, versionId } = await this.confirmable(ctx, 'sign', type, id);
    const me = ctx.actor.practitioner;
    if (!(doc.author ?? []).some((a) => a.reference === me)) {
      throw new GovernanceError(GovernanceErrorCode.NotAuthor, `${type}/${id} is signed by its author; ${me} is not among its authors (R-13)`);
    }
    if (!ctx.actor.licence || PROVISIONAL_SET.has(ctx.actor.licence)) {
      throw new GovernanceError(
        GovernanceErrorCode.CosignRequired,
        `${type}/${id} stays provisional: a document by ${WHO[ctx.actor.licence ?? ''] ?? 'an operator whose licence is not stated'} is reviewed and co-signed by a physician licensed at this hospital (R-14)`,
      );
    }
    const status = documentStatus(doc);
    if (status && CLOSED_STATUSES.includes(status)) {
      throw new GovernanceError(GovernanceErrorCode.AlreadySigned, `${type}/${id} is ${status}: ${status === 'entered-in-error' ? 'a withdrawn document is not signed' : 'it was signed already'}`);
    }
    // A document written by an intern, probationer or visiting doctor is finished by a co-signature, even when a licensed co-author signs.
    const licence = await this.provisionalLicence(type, id);
    if (licence) {
      throw new GovernanceError(
        GovernanceErrorCode.AwaitingCosign,
        `${type}/${id} was written by ${WHO[licence]}: a physician licensed here reviews and co-signs it with $cosign (R-14)`,
      );
    }
    const docType = this.types.classify(doc);
    return this.confirm(ctx, 'sign', doc, versionId, {
      agent: [{ type: { coding: [AUTHOR] }, who: { reference: me } }],
      signature: AUTHOR_SIGNATURE,
      ...(docType ? { reason: [{ text: `signed ${docType.display}${docType.zh ? ` (${docType.zh})` : ''}` }] } : {}),
    });
  }

  /**
   * `$cosign` (R-14): a physician licensed at this hospital, of the responsible department,
   * confirms a document written by an intern, a probationer or a visiting doctor (after
   * reviewing it, and editing it if needed: each edit is a version). The document becomes
   * final with the co-signer as legal attester; the Provenance carries the authors and the
   * co-signer (verifier) with an ASTM verification signature.
   */
  async cosign(ctx: FhirContext, type: string, id: string): Promise<FhirResponse> {
    const { doc, versionId } = await this.confirmable(ctx, 'cosign', type, id);
    if (ctx.actor.licence !== 'licensed') {
      throw new GovernanceError(GovernanceErrorCode.CosignerNotLicensed, `A co-signature is given by a physician licensed at this hospital; this operator's licence is ${ctx.actor.licence ?? 'not stated'} (R-14)`);
    }
    const status = documentStatus(doc);
    if (status && CLOSED_STATUSES.includes(status)) throw new GovernanceError(GovernanceErrorCode.AlreadySigned, `${type}/${id} is already ${status}`);
    if (!(await this.provisionalLicence(type, id))) {
      throw new GovernanceError(GovernanceErrorCode.NotAwaitingCosign, `${type}/${id} was written by a licensed physician: its author signs it with $sign (R-13)`);
    }
    return this.confirm(ctx, 'cosign', doc, versionId, {
      agent: [{ type: { coding: [VERIFIER] }, who: { reference: ctx.actor.practitioner } }, ...(doc.author ?? []).map((a) => ({ type: { coding: [AUTHOR] }, who: a }))],
      signature: VERIFICATION_SIGNATURE,
    });
  }

  /** The provisional licence (intern, probation, visiting) the document was first written under, if it was (its first ledger entry, R-14). */
  private async provisionalLicence(type: string, id: string): Promise<string | undefined> {
    const licence = (await this.ledger.creator({ type, id }))?.licence;
    return licence !== undefined && PROVISIONAL.includes(licence) ? licence : undefined;
  }

  /** A governed document the policy lets this operator `step`, as stored (403, or 404 where the policy hides it). */
  private async confirmable(ctx: FhirContext, step: 'sign' | 'cosign', type: string, id: string): Promise<{ doc: Document; versionId: string }> {
    if (!this.policy.governedResources.includes(type) || (type !== 'Composition' && type !== 'DocumentReference')) {
      throw new GovernanceError(GovernanceErrorCode.NotGoverned, `$${step} applies to governed clinical documents (Composition, DocumentReference), not ${type}`);
    }
    const stored = (await this.access.requireStored(ctx, step, { type, id }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    return { doc: JSON.parse(stored.json) as Document, versionId: stored.versionId };
  }

  /**
   * Writes the confirmed document (final, the operator as legal attester or authenticator; If-Match
   * on the version they were shown) and its Provenance (activity LA, the operator's signature) in
   * one transaction, each with its ledger and audit entries, and archives an outpatient record
   * whose last document this was when the policy says so.
   */
  private async confirm(
    ctx: FhirContext,
    step: 'sign' | 'cosign',
    doc: Document,
    versionId: string,
    provenance: { agent: Provenance['agent']; signature: Coding; reason?: Provenance['reason'] },
  ): Promise<FhirResponse> {
    const me = ctx.actor.practitioner;
    const now = this.clock.now().toISOString();
    const { resourceType: type, id } = doc as Document & { id: string };
    const signed: Document =
      doc.resourceType === 'Composition'
        ? { ...doc, status: 'final', attester: [...(doc.attester ?? []), { mode: 'legal', time: now, party: { reference: me } }] }
        : { ...doc, docStatus: 'final', authenticator: { reference: me } };
    const patient = subjectPatient(doc);
    const stored = await this.store.transaction(async (tx, unit) => {
      const written = await this.chain.update(ctx, tx, unit, { ...signed, id } as Resource & { id: string }, { ifMatch: versionId, patient }, step);
      const created = await this.chain.create<Provenance>(ctx, tx, unit, {
        resourceType: 'Provenance',
        target: [{ reference: `${type}/${id}/_history/${written.resource.meta?.versionId}` }],
        recorded: now,
        activity: { coding: [LEGAL_AUTHENTICATOR] },
        agent: provenance.agent,
        signature: [{ type: [provenance.signature], when: now, who: { reference: me } }],
        ...(provenance.reason ? { reason: provenance.reason } : {}),
      } as Provenance, { patient });
      await this.archives.archiveIfComplete(ctx, tx, unit, written.resource);
      return created.resource;
    });
    return {
      status: 200,
      body: stored,
      headers: { 'Content-Location': `${ctx.baseUrl}/${type}/${id}/_history/${(stored.target?.[0]?.reference ?? '').split('/').pop()}` },
    };
  }

  /**
   * Documents of a department waiting for a co-signature (R-14), oldest first: governed
   * documents first written by an intern, probationer or visiting doctor, not yet final, of an
   * encounter whose service provider is the department. A physician who may co-sign lists
   * their own department's; medical affairs any department's.
   */
  async pendingCosign(ctx: FhirContext, dept: string | undefined): Promise<PendingCosign[]> {
    const department = departmentToList(this.decisions, ctx, 'cosign', dept, 'pending-cosign', (d) => `The co-signature queue of ${d} is read by its physicians who may co-sign, and by medical affairs (R-14)`);
    // Governed documents of the department not yet final (the store's), first written under a provisional licence (the ledger's).
    // Keys first: only the queue's own page of documents is read in full.
    const open = await this.store.records.documentKeysOfDepartment(department, this.policy.governedResources, CLOSED_STATUSES);
    const first = await this.ledger.firstEntriesUnder(open, PROVISIONAL);
    const queued = open
      .map((ref) => ({ ref, entry: first.get(`${ref.type}/${ref.id}`) }))
      .filter((r): r is { ref: RecordRef; entry: FirstEntry & { licence: string } } => r.entry?.licence !== undefined)
      .sort((a, b) => a.entry.recorded.getTime() - b.entry.recorded.getTime())
      .slice(0, PENDING_COSIGN_LIMIT);
    const contents = new Map((await this.store.records.readMany(queued.map((q) => q.ref))).map((r) => [`${r.resource.resourceType}/${r.resource.id}`, r.resource as Document]));
    const rows = queued.flatMap(({ ref, entry }) => {
      const content = contents.get(`${ref.type}/${ref.id}`);
      return content ? [{ content, entry }] : [];
    });
    const now = this.clock.now().getTime();
    return rows.map(({ content, entry }) => {
      const docType = this.types.classify(content);
      const title = (content as { title?: string; description?: string }).title ?? (content as { description?: string }).description;
      return {
        document: `${content.resourceType}/${content.id}`,
        ...(docType ? { docType: docType.code } : {}),
        ...(title ? { title } : {}),
        authors: (content.author ?? []).map((a) => a.reference ?? a.display ?? '').filter(Boolean),
        writtenBy: entry.editor,
        licence: entry.licence,
        written: entry.recorded.toISOString(),
        waitingHours: Math.floor((now - entry.recorded.getTime()) / 3_600_000),
      };
    });
  }
}

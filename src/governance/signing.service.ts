import { Injectable } from '@nestjs/common';
import type { Composition, DocumentReference, Provenance, Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import type { FhirResponse } from '../fhir/fhir-response.js';
import { WriteJournal } from '../fhir/write-journal.port.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import { DocumentTypes } from './domain/document-types.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/** ASTM E1762 signature types (R4 signature-type value set). */
export const AUTHOR_SIGNATURE = { system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1', display: "Author's Signature" };
const LEGAL_AUTHENTICATOR = { system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'LA', display: 'legal authenticator' };
const AUTHOR = { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' };

/** Licence statuses whose documents stay provisional until a licensed physician co-signs them (R-14). */
const PROVISIONAL = new Set(['intern', 'probation', 'visiting']);

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
    private readonly journal: WriteJournal,
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly clock: Clock,
  ) {}

  async sign(ctx: FhirContext, type: string, id: string): Promise<FhirResponse> {
    if (!this.policy.governedResources.includes(type) || (type !== 'Composition' && type !== 'DocumentReference')) {
      throw new GovernanceError(GovernanceErrorCode.NotGoverned, `$sign applies to governed clinical documents (Composition, DocumentReference), not ${type}`);
    }
    const stored = (await this.access.requireStored(ctx, 'sign', { type, id }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    const doc = JSON.parse(stored.json) as Document;
    const me = ctx.actor.practitioner;
    if (!(doc.author ?? []).some((a) => a.reference === me)) {
      throw new GovernanceError(GovernanceErrorCode.NotAuthor, `${type}/${id} is signed by its author; ${me} is not among its authors (R-13)`);
    }
    if (!ctx.actor.licence || PROVISIONAL.has(ctx.actor.licence)) {
      throw new GovernanceError(
        GovernanceErrorCode.CosignRequired,
        `${type}/${id} stays provisional: a document by ${ctx.actor.licence ? `a ${ctx.actor.licence} physician` : 'an operator whose licence is not stated'} is reviewed and co-signed by a physician licensed at this hospital (R-14)`,
      );
    }
    const status = doc.resourceType === 'DocumentReference' ? doc.docStatus : doc.status;
    if (status === 'final' || status === 'amended') {
      throw new GovernanceError(GovernanceErrorCode.AlreadySigned, `${type}/${id} is already ${status}: it was signed`);
    }
    const now = this.clock.now().toISOString();
    const signed: Document =
      doc.resourceType === 'Composition'
        ? { ...doc, status: 'final', attester: [...(doc.attester ?? []), { mode: 'legal', time: now, party: { reference: me } }] }
        : { ...doc, docStatus: 'final', authenticator: { reference: me } };
    const docType = this.types.classify(doc);
    const patient = (doc.subject?.reference ?? '').startsWith('Patient/') ? doc.subject?.reference?.slice('Patient/'.length) : undefined;
    ctx.operation = 'sign';
    const provenance = await this.store.transaction(async (tx, sql) => {
      // If-Match: what the author confirmed is exactly the version they were shown.
      const written = await tx.update({ ...signed, id } as Resource & { id: string }, { ifMatch: stored.versionId });
      await this.journal.record(ctx, { resource: written.resource, created: false, patient }, sql);
      const created = await tx.create<Provenance>({
        resourceType: 'Provenance',
        target: [{ reference: `${type}/${id}/_history/${written.resource.meta?.versionId}` }],
        recorded: now,
        activity: { coding: [LEGAL_AUTHENTICATOR] },
        agent: [{ type: { coding: [AUTHOR] }, who: { reference: me } }],
        signature: [{ type: [AUTHOR_SIGNATURE], when: now, who: { reference: me } }],
        ...(patient ? { patient: { reference: `Patient/${patient}` } } : {}),
        ...(docType ? { reason: [{ text: `signed ${docType.display}${docType.zh ? ` (${docType.zh})` : ''}` }] } : {}),
      } as Provenance);
      await this.journal.record(ctx, { resource: created.resource, created: true, patient }, sql);
      return created.resource;
    });
    return {
      status: 200,
      body: provenance,
      headers: { 'Content-Location': `${ctx.baseUrl}/${type}/${id}/_history/${(provenance.target?.[0]?.reference ?? '').split('/').pop()}` },
    };
  }
}

import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { contentSha256 } from '../common/content-hash.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteRecorder, type JournaledWrite } from '../fhir/write-chain.port.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import { diffOf, LEDGER_GENESIS, ledgerHash, type LedgerEntry } from './domain/ledger.js';
import { AmendmentService } from './amendment.service.js';
import { EditLedgerRepository } from './edit-ledger.repository.js';

/**
 * The edit ledger: every version of every governed document gets an entry
 * naming its editor, the exact server time, the reason, the amendment it was written under,
 * what changed (RFC 6902) and the hash of the version, chained per document, in the version's
 * own transaction. What may be written was decided before the write by the guards (archive
 * R-15, edit window R-11, reason R-12, copy-paste R-16); this records what was.
 */
@Injectable()
export class EditLedgerRecorder extends WriteRecorder {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly clock: Clock,
    private readonly amendments: AmendmentService,
    private readonly ledger: EditLedgerRepository,
  ) {
    super();
  }

  async record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    const { resource, previous } = write;
    if (write.unchanged || !this.policy.governedResources.includes(resource.resourceType)) return;
    const id = resource.id as string;
    const version = Number(resource.meta?.versionId);
    // The chain continues from the previous version's entry; a document governed only since now starts a chain.
    const previousHash = previous ? await this.ledger.hashOf(unit, { type: resource.resourceType, id }, Number(previous.meta?.versionId)) : undefined;
    const permit = this.amendments.takenFor(ctx);
    const reason = ctx.editReason ?? permit?.reason;
    const entry: LedgerEntry = {
      resourceType: resource.resourceType,
      id,
      version,
      recorded: resource.meta?.lastUpdated ?? this.clock.now().toISOString(),
      editor: ctx.actor.id,
      practitioner: ctx.actor.practitioner,
      ...(ctx.actor.licence ? { licence: ctx.actor.licence } : {}),
      kind: write.step === 'sign' || write.step === 'cosign' ? write.step : permit ? 'amend' : write.created ? 'create' : 'update',
      ...(reason ? { reason } : {}),
      ...(permit ? { amendment: { id: permit.id, approvedBy: permit.approvedBy } } : {}),
      ...(ctx.copiedFrom?.length ? { copiedFrom: ctx.copiedFrom } : {}),
      ...optionalDocType(this.types.classify(resource)?.code),
      diff: diffOf(previous, resource),
      contentSha256: contentSha256(resource),
      ...(ctx.audit ? { requestId: ctx.audit.requestId } : {}),
    };
    const prevHash = previousHash ?? LEDGER_GENESIS;
    const { text, hash } = ledgerHash(prevHash, entry);
    await this.ledger.append(unit, { entry, text, prevHash, hash });
    // The amendment permit this write was allowed under is used up by this version.
    await this.amendments.useUp(unit, ctx, version);
  }
}

function optionalDocType(code: string | undefined): { docType?: string } {
  return code ? { docType: code } : {};
}

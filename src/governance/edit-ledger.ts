import { Injectable, Logger } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import type { Queryable } from '../database/chartwarden-database.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteJournal, type JournaledWrite } from '../fhir/write-journal.port.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import { contentSha256, diffOf, LEDGER_GENESIS, ledgerHash, type LedgerEntry } from './domain/ledger.js';
import { editWindow } from './domain/edit-window.js';
import { documentStatus, SIGNED_STATUSES } from './domain/document.js';
import { AmendmentService, type UsedPermit } from './amendment.service.js';
import { encounterOf, isArchived } from './archive.service.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/**
 * The edit ledger (R-12, R-17, R-51): every version of every governed document gets an entry
 * naming its editor, the exact server time, the reason, what changed (RFC 6902) and the hash
 * of the version, chained per document, in the version's own transaction. A change to a
 * document that is already final without `X-Edit-Reason` is refused here, so it rolls back.
 */
@Injectable()
export class EditLedger extends WriteJournal {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly clock: Clock,
    private readonly amendments: AmendmentService,
  ) {
    super();
    if (!policy.editWindows) new Logger('Governance').warn('The policy has no governance.editWindows: edit windows (R-11) are not enforced');
  }

  async record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    const tx = sqlOf(unit);
    const resource = write.resource;
    if (write.unchanged || !this.policy.governedResources.includes(resource.resourceType)) return;
    const id = resource.id as string;
    const version = Number(resource.meta?.versionId);
    const [previous] = write.created
      ? []
      : await tx.query<{ content: Resource; hash: Buffer | null }>(
          `SELECT v.content, l.hash FROM fhir_resource_version v
             LEFT JOIN edit_ledger l ON l.resource_type = v.resource_type AND l.resource_id = v.id AND l.version_id = v.version_id
            WHERE v.resource_type = $1 AND v.id = $2 AND v.version_id = $3`,
          [resource.resourceType, id, version - 1],
          { prepare: true },
        );
    const status = previous ? documentStatus(previous.content) : undefined;
    // Signing confirms what was written, late or not (a missed writing deadline is reported, not a reason to keep it unsigned).
    // R-15: an archived encounter's documents are read-only for every role, but for an amendment medical affairs approved.
    const encounter = encounterOf(resource) ?? (previous ? encounterOf(previous.content) : undefined);
    let permit: UsedPermit | undefined;
    if (encounter && (await this.isArchivedEncounter(tx, encounter))) {
      permit = write.created ? undefined : await this.amendments.take(tx, ctx, resource.resourceType, id, version, 'medical-affairs');
      if (!permit) {
        throw new GovernanceError(
          GovernanceErrorCode.Archived,
          `Encounter/${encounter} is archived: its records are read-only for every role; ${write.created ? 'no document is added to it' : `a change of ${resource.resourceType}/${id} needs an amendment ($amend-request) approved by medical affairs`}; nothing was changed (R-15)`,
        );
      }
    } else if (previous && !write.step) {
      permit = await this.checkEditWindow(ctx, previous.content, tx, version);
    }
    const reason = ctx.editReason ?? permit?.reason;
    if (status && SIGNED_STATUSES.includes(status) && !reason) {
      throw new GovernanceError(
        GovernanceErrorCode.ReasonRequired,
        `${resource.resourceType}/${id} is ${status} (signed): say why it changes with the header X-Edit-Reason (percent-encoded UTF-8); nothing was changed (R-12)`,
      );
    }
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
      diff: diffOf(previous?.content, resource),
      contentSha256: contentSha256(resource),
      ...(ctx.audit ? { requestId: ctx.audit.requestId } : {}),
    };
    // The chain continues from the previous version's entry; a document governed only since now starts a chain.
    const { text, hash } = ledgerHash(previous?.hash ?? LEDGER_GENESIS, entry);
    await tx.query(
      `INSERT INTO edit_ledger (resource_type, resource_id, version_id, recorded, editor, kind, reason, doc_type, entry, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [entry.resourceType, id, version, entry.recorded, entry.editor, entry.kind, entry.reason ?? null, entry.docType ?? null, text, previous?.hash ?? LEDGER_GENESIS, hash],
      { prepare: true },
    );
  }

  private async isArchivedEncounter(tx: Queryable, id: string): Promise<boolean> {
    const [row] = await tx.query<{ content: Resource }>(`SELECT content FROM fhir_resource WHERE resource_type = 'Encounter' AND id = $1`, [id], { prepare: true });
    return row ? isArchived(row.content) : false;
  }

  /**
   * R-11: the operator's edit window for this document (from its creation or signing) must
   * still be open, or they hold an approved amendment permit, which this write uses up.
   */
  private async checkEditWindow(ctx: FhirContext, stored: Resource, tx: Queryable, version: number): Promise<UsedPermit | undefined> {
    const rules = this.policy.editWindows;
    if (!rules) return undefined;
    const [times] = await tx.query<{ created: Date; signed: Date | null }>(
      `SELECT min(last_updated) AS created,
              min(last_updated) FILTER (WHERE coalesce(content->>'docStatus', content->>'status') = ANY($3::text[])) AS signed
         FROM fhir_resource_version WHERE resource_type = $1 AND id = $2`,
      [stored.resourceType, stored.id, SIGNED_STATUSES],
      { prepare: true },
    );
    const docType = this.types.classify(stored);
    const decision = editWindow(rules, ctx.actor.roles, docType?.code, { created: times.created, signed: times.signed ?? undefined }, this.clock.now());
    if (decision.open) return undefined;
    const permit = await this.amendments.take(tx, ctx, stored.resourceType, stored.id as string, version);
    if (permit) return permit;
    const what = `${stored.resourceType}/${stored.id}${docType ? ` (${docType.display}${docType.zh ? ` ${docType.zh}` : ''})` : ''}`;
    const amend = `after its edit window a record changes only by a formal amendment: POST ${stored.resourceType}/${stored.id}/$amend-request with a reason, approved by a chief physician or medical affairs (R-11)`;
    if (decision.reason === 'no-rule') {
      throw new GovernanceError(
        GovernanceErrorCode.EditWindowClosed,
        `No edit window of the policy (governance.editWindows) lets roles ${ctx.actor.roles.join(', ') || '(none)'} change ${what}: ${amend}; nothing was changed`,
      );
    }
    throw new GovernanceError(
      GovernanceErrorCode.EditWindowClosed,
      `The edit window for ${what} closed at ${decision.closedAt.toISOString()} (${decision.rule.hours} h after its ${decision.rule.from === 'signed' ? 'signing' : 'creation'} at ${decision.anchor.toISOString()}, ` +
        `rule for ${decision.rule.roles.join('/')}): ${amend}; nothing was changed`,
    );
  }
}

function optionalDocType(code: string | undefined): { docType?: string } {
  return code ? { docType: code } : {};
}

import type { AccessFactOptions } from '../store/access-facts.js';
import { DEFAULT_CHECKLISTS, type ChecklistItem, type RequesterType } from './domain/copy-checklists.js';
import type { PolicyDocument } from './domain/policy-document.js';
import type { EditWindowRule } from './domain/edit-window-rule.js';
import { DocumentTypes } from './domain/document-types.js';

/**
 * The validated policy in force (DI token). Its version is recorded with every decision.
 *
 * The document may be replaced while the server runs (`PolicyReloader`, on SIGHUP or a
 * cluster event): every getter reads the policy in force at the moment it is called, so a
 * holder of this object never keeps an old policy. A caller that needs several values of one
 * policy (a decision and the version it records) reads them without an `await` in between,
 * or takes `document` once.
 */
export class LoadedPolicy {
  private current: PolicyDocument;
  private types?: { of: PolicyDocument; value: DocumentTypes };

  /**
   * @param document the validated policy
   * @param source the file it was read from, when it was (a policy given as an object by an
   *   embedding application has none, and cannot be re-read)
   */
  constructor(document: PolicyDocument, readonly source?: string) {
    this.current = document;
  }

  /** The policy in force. */
  get document(): PolicyDocument {
    return this.current;
  }

  get version(): string {
    return this.current.version;
  }

  /** Puts `next` in force at once, for every holder of this object; returns the policy it replaced. */
  replace(next: PolicyDocument): PolicyDocument {
    const previous = this.current;
    this.current = next;
    return previous;
  }

  /**
   * The document types and the codes that name them, with the policy's own codes
   * (`governance.documentTypeMap`): built once per policy document.
   */
  get documentTypes(): DocumentTypes {
    if (this.types?.of !== this.current) {
      this.types = { of: this.current, value: DocumentTypes.fromProfiles(this.current.governance?.documentTypeMap ?? []) };
    }
    return this.types.value;
  }

  get settings(): PolicyDocument['settings'] {
    return this.document.settings;
  }

  /** The roles the policy defines: any other role a token or a query names has no rules. */
  get roleNames(): readonly string[] {
    return Object.keys(this.document.roles);
  }

  /** Resources governed as clinical documents (edit ledger, edit windows…): `Composition` and `DocumentReference` unless the policy says. */
  get governedResources(): readonly string[] {
    return this.document.governance?.resources ?? ['Composition', 'DocumentReference'];
  }

  /**
   * R-11 edit windows; undefined when the policy has none (then they are not enforced, and the
   * module says so at start-up). With some, a role no rule names has no window at all.
   */
  get editWindows(): readonly EditWindowRule[] | undefined {
    return this.document.governance?.editWindows;
  }

  /** hours each document type is due after its triggering event (none: deadlines not checked). */
  get writingDeadlines(): Readonly<Record<string, number>> {
    return this.document.governance?.writingDeadlines ?? {};
  }

  /** the shortest passage that counts as copied. */
  get copyPasteMinChars(): number {
    return this.document.governance?.copyPasteMinChars ?? 50;
  }

  /** whether an outpatient record archives itself when its last document is signed. */
  get archiveOutpatientOnSigning(): boolean {
    return this.document.governance?.archiveOutpatientOnSigning ?? false;
  }

  /** roles whose review archives an inpatient encounter. */
  get archiveInpatientRoles(): readonly string[] {
    return this.document.governance?.archiveInpatientRoles ?? ['chief'];
  }

  /** hours an approved amendment permit stays usable. */
  get amendmentPermitHours(): number {
    return this.document.governance?.amendmentPermitHours ?? 24;
  }

  /** years records are kept (policy `settings.recordRetention`; defaults 15 outpatient, 30 inpatient). */
  get recordRetention(): { outpatientYears: number; inpatientYears: number } {
    return this.document.settings.recordRetention ?? { outpatientYears: 15, inpatientYears: 30 };
  }

  /** Printed with the stamp on copies and sealed inventories (policy `settings.hospitalName`). */
  get hospitalName(): string {
    return this.document.settings.hospitalName ?? 'ChartWarden 示例医院';
  }

  /** The time zone in which people read times (policy `settings.timeZone`, default Asia/Shanghai). */
  get timeZone(): string {
    return this.document.settings.timeZone ?? 'Asia/Shanghai';
  }

  /** The stamp's words on copies and sealed papers, and its ink (policy `settings.stamp`). */
  get stamp(): { copy: string; sealed: string; colour: string } {
    const s = this.document.settings.stamp;
    return { copy: s?.copy ?? '病历管理专用章', sealed: s?.sealed ?? '病历封存专用章', colour: s?.colour ?? '#d7261e' };
  }

  /** Roles that read ID numbers whole in workflow JSON (policy `settings.idNumbersVisibleTo`, default record room and disputes office). */
  get idNumbersVisibleTo(): readonly string[] {
    return this.document.settings.idNumbersVisibleTo ?? ['record-room', 'disputes-officer'];
  }

  /** Identifier systems whose value is the 病案号, tried in order (policy `settings.medicalRecordNumberSystems`). */
  get medicalRecordNumberSystems(): readonly string[] {
    return this.document.settings.medicalRecordNumberSystems ?? [];
  }

  /** what a requester type presents (policy `copyRequests.evidence`, else the shipped table). */
  copyChecklist(type: RequesterType): readonly ChecklistItem[] {
    return this.document.copyRequests?.evidence?.[type] ?? DEFAULT_CHECKLISTS[type];
  }

  /** Largest evidence file accepted (policy `copyRequests.maxEvidenceBytes`, default 10 MiB). */
  get maxEvidenceBytes(): number {
    return this.document.copyRequests?.maxEvidenceBytes ?? 10 * 1024 * 1024;
  }

  /** the clerk who received or verified a copy request may not approve it (policy `copyRequests.separationOfDuties`, default on). */
  get copySeparationOfDuties(): boolean {
    return this.document.copyRequests?.separationOfDuties ?? true;
  }

  /** minutes a witness's confirmation or an unseal approval stays usable (policy `disputes.confirmationMinutes`). */
  get disputeConfirmationMinutes(): number {
    return this.document.disputes?.confirmationMinutes ?? 30;
  }

  /** years after sealing with no claim before a unilateral unseal (policy `disputes.unilateralUnsealAfterYears`). */
  get unilateralUnsealAfterYears(): number {
    return this.document.disputes?.unilateralUnsealAfterYears ?? 3;
  }

  /** The policy data a store needs to compute access facts (the care window, R-03). */
  get factOptions(): AccessFactOptions {
    return { careWindowDays: this.document.settings.careWindowDaysAfterDischarge };
  }
}

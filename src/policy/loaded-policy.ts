import type { AccessFactOptions } from '../store/access-facts.js';
import { DEFAULT_CHECKLISTS, type ChecklistItem, type RequesterType } from '../release/domain/copy-request.js';
import type { PolicyDocument } from './domain/policy-document.js';
import type { EditWindowRule } from '../governance/domain/edit-window.js';

/** The validated policy in force (DI token). Its version is recorded with every decision. */
export class LoadedPolicy {
  constructor(readonly document: PolicyDocument) {}

  get version(): string {
    return this.document.version;
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

  /** The policy data a store needs to compute access facts (the care window, R-03). */
  /** years records are kept (policy `settings.recordRetention`; defaults 15 outpatient, 30 inpatient). */
  get recordRetention(): { outpatientYears: number; inpatientYears: number } {
    return this.document.settings.recordRetention ?? { outpatientYears: 15, inpatientYears: 30 };
  }

  /** Printed with the stamp on copies and sealed inventories (policy `settings.hospitalName`). */
  get hospitalName(): string {
    return this.document.settings.hospitalName ?? 'ChartWarden 示例医院';
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

  get factOptions(): AccessFactOptions {
    return { careWindowDays: this.document.settings.careWindowDaysAfterDischarge };
  }
}

import type { AccessFactOptions } from '../store/access-facts.js';
import type { PolicyDocument } from './domain/policy-document.js';

/** The validated policy in force (DI token). Its version is recorded with every decision. */
export class LoadedPolicy {
  constructor(readonly document: PolicyDocument) {}

  get version(): string {
    return this.document.version;
  }

  get settings(): PolicyDocument['settings'] {
    return this.document.settings;
  }

  /** Resources governed as clinical documents (edit ledger, edit windows…): `Composition` and `DocumentReference` unless the policy says. */
  get governedResources(): readonly string[] {
    return this.document.governance?.resources ?? ['Composition', 'DocumentReference'];
  }

  /** The policy data a store needs to compute access facts (the care window, R-03). */
  get factOptions(): AccessFactOptions {
    return { careWindowDays: this.document.settings.careWindowDaysAfterDischarge };
  }
}

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
}

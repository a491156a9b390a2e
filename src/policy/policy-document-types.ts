import type { Resource } from '@medplum/fhirtypes';
import { DocumentTypes, type DocumentType } from './domain/document-types.js';
import type { LoadedPolicy } from './loaded-policy.js';

/**
 * The `DocumentTypes` the module provides: always those of the policy in force, so a reloaded
 * `governance.documentTypeMap` (a hospital's own document codes) applies without a restart.
 * Every method answers from `LoadedPolicy.documentTypes`, built once per policy.
 */
export class PolicyDocumentTypes extends DocumentTypes {
  constructor(private readonly policy: LoadedPolicy) {
    // Nothing of its own: every lookup below goes to the policy's.
    super({ resourceType: 'CodeSystem', status: 'active', content: 'complete' }, []);
  }

  override get(code: string): DocumentType | undefined {
    return this.policy.documentTypes.get(code);
  }

  override all(): DocumentType[] {
    return this.policy.documentTypes.all();
  }

  override typeOf(system: string | undefined, code: string | undefined): string | undefined {
    return this.policy.documentTypes.typeOf(system, code);
  }

  override classifyAll(resource: Resource): DocumentType[] {
    return this.policy.documentTypes.classifyAll(resource);
  }

  override classify(resource: Resource): DocumentType | undefined {
    return this.policy.documentTypes.classify(resource);
  }
}

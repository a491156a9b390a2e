import { Injectable } from '@nestjs/common';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';

/**
 * Validates incoming resources against the FHIR R4 base StructureDefinitions with
 * `@medplum/core` (a maintained validator: cardinality, types, unknown elements, choice
 * types, primitive formats). Every problem is reported at once; nothing is stored.
 */
@Injectable()
export class ResourceValidator {
  constructor() {
    loadR4Definitions();
  }

  validate(resource: Resource): void {
    try {
      validateResource(resource);
    } catch (e) {
      if (e instanceof OperationOutcomeError) {
        const issues = e.outcome.issue ?? [];
        const summary = issues.map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? i.diagnostics ?? ''}`.trim()).join('; ');
        throw new FhirRequestError(FhirRequestErrorCode.ValidationFailed, `The ${resource.resourceType} is not valid FHIR R4: ${summary}`, undefined, issues);
      }
      throw e;
    }
  }
}

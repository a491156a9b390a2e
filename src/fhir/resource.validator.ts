import { Injectable } from '@nestjs/common';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { RequiredBindings } from './required-bindings.js';
import { csd1Issues, isEngineCsd1 } from './code-system-codes.js';
import { referenceFormatIssues } from './reference-format.js';

/**
 * Validates incoming resources against FHIR R4 before anything is stored (R-17: a record is
 * not stored corrupted): the base StructureDefinitions with `@medplum/core` (a maintained
 * validator: cardinality, types, unknown elements, choice types, primitive formats), then what
 * it leaves out, with {@link RequiredBindings}: every required terminology binding, and unknown
 * elements it mistakes for known ones (`__proto__`, `constructor`, …), and the invariants its
 * FHIRPath engine gets wrong, evaluated here instead (csd-1, `code-system-codes.ts`), and
 * relative references that name no record (`reference-format.ts`). Every
 * problem is reported at once, each with its element path; nothing is stored.
 */
@Injectable()
export class ResourceValidator {
  private readonly resourceTypes = loadR4Definitions();
  private readonly bindings = new RequiredBindings(this.resourceTypes);

  validate(resource: Resource): void {
    const issues = this.issues(resource);
    if (!issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) return;
    const summary = issues.map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? i.diagnostics ?? ''}`.trim()).join('; ');
    throw new FhirRequestError(FhirRequestErrorCode.ValidationFailed, `The ${resource.resourceType} is not valid FHIR R4: ${summary}`, undefined, issues);
  }

  /** Every issue found, whatever its severity (`$validate` answers them as they are). */
  issues(resource: Resource): OperationOutcomeIssue[] {
    const structural = this.structuralIssues(resource).filter((i) => !isEngineCsd1(i));
    return [...structural, ...csd1Issues(resource), ...this.bindings.check(resource), ...referenceFormatIssues(resource, this.resourceTypes)];
  }

  private structuralIssues(resource: Resource): OperationOutcomeIssue[] {
    try {
      validateResource(resource);
      return [];
    } catch (e) {
      if (e instanceof OperationOutcomeError) return e.outcome.issue ?? [];
      // The validator gave up on this input (e.g. `"_gender": "x"`): the body is what is wrong, and nothing is stored.
      const text = `The resource could not be validated: ${e instanceof Error ? e.message : String(e)}`;
      return [{ severity: 'error', code: 'structure', details: { text }, expression: [resource.resourceType] }];
    }
  }
}

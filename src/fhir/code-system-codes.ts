import type { CodeSystem, CodeSystemConcept, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

/** The R4 invariant on CodeSystem: "Within a code system definition, all the codes SHALL be unique". */
export const CSD_1 = 'csd-1';

/**
 * csd-1 evaluated here, over every level of `concept` (R4 codesystem.html#invariants). The
 * FHIRPath engine cannot be trusted with it: `@medplum/core` 4.5 implements `descendants()` as
 * an empty list, so a duplicate nested under another concept passes its check (a false
 * negative), and the expression's `combine` keeps duplicates, so an engine whose
 * `descendants()` includes the top level reports HL7's own `codesystem-example` (a false
 * positive). One issue per code that appears again, at the element where it reappears.
 */
export function csd1Issues(resource: Resource): OperationOutcomeIssue[] {
  if (resource.resourceType !== 'CodeSystem') return [];
  const seen = new Map<string, string>();
  const issues: OperationOutcomeIssue[] = [];
  const walk = (concepts: unknown, path: string): void => {
    if (!Array.isArray(concepts)) return;
    concepts.forEach((concept: CodeSystemConcept | undefined, i) => {
      const at = `${path}.concept[${i}]`;
      const code = concept?.code;
      if (typeof code === 'string') {
        const first = seen.get(code);
        if (first === undefined) seen.set(code, at);
        else issues.push(duplicate(code, `${at}.code`, first));
      }
      walk(concept?.concept, at);
    });
  };
  walk((resource as CodeSystem).concept, 'CodeSystem');
  return issues;
}

/** Whether an engine issue is its own verdict on csd-1 at the resource's root (ours replaces it). */
export function isEngineCsd1(issue: OperationOutcomeIssue): boolean {
  return issue.code === 'invariant' && (issue.details?.text ?? '').startsWith(`Constraint ${CSD_1} `) && issue.expression?.length === 1 && issue.expression[0] === 'CodeSystem';
}

function duplicate(code: string, at: string, first: string): OperationOutcomeIssue {
  return {
    severity: 'error',
    code: 'invariant',
    details: { text: `Constraint ${CSD_1} not met: Within a code system definition, all the codes SHALL be unique ("${code}" is also at ${first})` },
    expression: [at],
  };
}

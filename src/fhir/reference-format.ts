import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { FHIR_ID } from '../common/fhir-reference.js';

/**
 * Literal references that start as a relative reference to a resource type (`Patient/…`) but
 * name no record: `Patient/`, `Patient/张 三`, `Patient/1/2`. R4 references.html#literal: a
 * relative reference is `Type/id`, optionally `/_history/version`. Such a reference names no
 * one, so the record would be stored as nobody's (its patient unknown to every decision, seal
 * and copy) rather than refused: each is an error at its element path. Absolute URLs,
 * `urn:uuid:`/`urn:oid:` placeholders, contained references (`#…`) and text that does not begin
 * with a resource type are left to their own rules.
 */
export function referenceFormatIssues(resource: Resource, resourceTypes: ReadonlySet<string>): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const visit = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, n) => visit(item, `${path}[${n}]`));
      return;
    }
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'reference' && typeof value === 'string' && !namesARecord(value, resourceTypes)) {
        issues.push({
          severity: 'error',
          code: 'value',
          details: { text: `"${value.slice(0, 80)}" is not a reference to a record: a relative reference is Type/id (R4 references.html#literal)` },
          expression: [`${path}.reference`],
        });
      } else if (value && typeof value === 'object') {
        visit(value, `${path}.${key}`);
      }
    }
  };
  visit(resource, resource.resourceType);
  return issues;
}

/** False only for a reference that begins `<ResourceType>/` and is not `Type/id[/_history/version]`. */
function namesARecord(reference: string, resourceTypes: ReadonlySet<string>): boolean {
  const slash = reference.indexOf('/');
  if (slash <= 0 || !resourceTypes.has(reference.slice(0, slash))) return true;
  const [, id, history, version, ...rest] = reference.split('/');
  if (rest.length) return false;
  if (history === undefined) return FHIR_ID.test(id);
  return FHIR_ID.test(id) && history === '_history' && version !== undefined && FHIR_ID.test(version);
}

import type { OperationOutcome, OperationOutcomeIssue, Parameters } from '@medplum/fhirtypes';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';

/** The `$validate` modes (R4 resource-operation-validate): what the resource would be validated for. */
const MODES = new Set(['create', 'update']);

/**
 * The resource `$validate` checks: the body itself, or the `resource` parameter of a
 * `Parameters` body (R4 resource-operation-validate). `mode` create or update is what the
 * validator does for every write; `delete` (refused by this server, R-17) and `profile`
 * (only the base R4 definitions are validated against) are refused as not supported.
 */
export function validatedResource(body: unknown, type: string): unknown {
  const parameters = body as Parameters | undefined;
  if (type === 'Parameters' || parameters?.resourceType !== 'Parameters') return body;
  const parameter = (name: string) => (Array.isArray(parameters.parameter) ? parameters.parameter.filter((p) => p?.name === name) : []);
  const mode = parameter('mode')[0]?.valueCode;
  if (mode !== undefined && !MODES.has(mode)) {
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `$validate mode "${mode}" is not supported: resources are never deleted here (R-17); use create or update`);
  }
  if (parameter('profile').length > 0) {
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, '$validate against a profile is not supported: resources are validated against the base R4 definitions');
  }
  const resources = parameter('resource');
  if (resources.length !== 1 || !resources[0].resource) {
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, '$validate takes the resource as the body, or as exactly one "resource" parameter', ['Parameters.parameter']);
  }
  return resources[0].resource;
}

/** The validator's issues as `$validate` answers them (200 either way): the issues, or one informational "All OK". */
export function validationOutcome(issues: readonly OperationOutcomeIssue[]): OperationOutcome {
  if (issues.length > 0) return { resourceType: 'OperationOutcome', issue: [...issues] };
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: 'All OK' }, diagnostics: 'All OK' }] };
}

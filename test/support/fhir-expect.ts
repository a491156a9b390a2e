import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { ERROR_CODE_SYSTEM } from '../../src/fhir/operation-outcome.mapper.js';
import type { HttpResult } from './http.js';

/** The status, and on a mismatch the body, so a failure shows what the server said. */
export function expectStatus(res: HttpResult<unknown>, status: number): void {
  expect({ status: res.status, text: res.status === status ? '' : res.text }).toEqual({ status, text: '' });
}

/** An OperationOutcome answer: its status, issue code and ChartWarden error code. */
export function expectOutcome(res: HttpResult<unknown>, status: number, code: string, chartwardenCode: string): OperationOutcome {
  expectStatus(res, status);
  const body = res.body as OperationOutcome;
  expect(body?.resourceType).toBe('OperationOutcome');
  expect(body.issue?.[0]).toMatchObject({ severity: 'error', code });
  expect(body.issue?.[0].details?.coding).toContainEqual({ system: ERROR_CODE_SYSTEM, code: chartwardenCode });
  return body;
}

/** The resource without its server meta, ready to be PUT back with changes. */
export function editable<T extends Resource>(resource: T): T {
  const { meta: _meta, ...rest } = resource;
  return rest as T;
}

import { toErrorResponse } from './operation-outcome.mapper.js';
import { DisputeError, DisputeErrorCode } from '../disputes/disputes.errors.js';
import { ChartWardenError, type ErrorAnswer } from '../common/chartwarden.error.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';

describe('toErrorResponse', () => {
  it('R-41: a write refused by a legal hold is 423 business-rule, naming the case (decision 0008)', () => {
    const res = toErrorResponse(new DisputeError(DisputeErrorCode.Sealed, 'Composition/c1 is sealed under dispute case d1'));
    expect(res.status).toBe(423);
    expect(res.outcome.issue?.[0]).toMatchObject({ code: 'business-rule', details: { text: expect.stringContaining('d1') } });
  });

  it('a deadlock or serialization failure is a transient 503 to retry, not a 500', () => {
    for (const code of ['40P01', '40001']) {
      const error = Object.assign(new Error('deadlock detected'), { code });
      const res = toErrorResponse(error);
      expect({ code, status: res.status, issue: res.outcome.issue?.[0].code, retry: res.headers?.['Retry-After'] }).toEqual({ code, status: 503, issue: 'transient', retry: '1' });
    }
    expect(toErrorResponse(Object.assign(new Error('x'), { code: '23505' })).status).toBe(500);
  });

  it('a record the policy hides answers exactly as one that does not exist: status, issue, code and words (decision 0005)', () => {
    const message = 'Composition/c1 not found';
    expect(toErrorResponse(new AccessError(AccessErrorCode.Hidden, message, 'confidential'))).toEqual(toErrorResponse(new StoreError(StoreErrorCode.NotFound, message)));
  });

  it("a hospital's own error answers as it declares; one that declares nothing is a 500 that reveals nothing", () => {
    class Declared extends ChartWardenError<'hospital.declared'> {
      constructor() {
        super('hospital.declared', 'A Patient needs its record number', ['Patient.identifier']);
      }
      override get answer(): ErrorAnswer {
        return { status: 422, issue: 'business-rule', headers: { 'X-Hospital-Rule': 'mrn' } };
      }
    }
    class Undeclared extends ChartWardenError<'hospital.undeclared'> {
      constructor() {
        super('hospital.undeclared', 'internal detail');
      }
    }
    const declared = toErrorResponse(new Declared());
    expect(declared.status).toBe(422);
    expect(declared.headers).toEqual({ 'X-Hospital-Rule': 'mrn' });
    expect(declared.outcome.issue?.[0]).toMatchObject({
      code: 'business-rule',
      expression: ['Patient.identifier'],
      details: { coding: [{ code: 'hospital.declared' }], text: 'A Patient needs its record number' },
    });
    const undeclared = toErrorResponse(new Undeclared());
    expect(undeclared.status).toBe(500);
    expect(JSON.stringify(undeclared.outcome)).not.toContain('internal detail');
  });
});

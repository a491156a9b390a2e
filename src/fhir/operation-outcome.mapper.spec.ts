import { toErrorResponse } from './operation-outcome.mapper.js';
import { DisputeError, DisputeErrorCode } from '../disputes/disputes.errors.js';

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
});

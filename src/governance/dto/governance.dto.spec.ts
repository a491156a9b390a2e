import { GovernanceError, GovernanceErrorCode } from '../governance.errors.js';
import { amendmentListSchema, departmentQuerySchema, parseAmendmentDecision, parseAmendmentRequest, parseQuery, versionRangeSchema } from './governance.dto.js';

describe('governance DTOs: parsed at the edge, answering as the API always has', () => {
  it('a query parameter absent, empty or repeated is none; other parameters are ignored', () => {
    expect(parseQuery(departmentQuerySchema, {}).dept).toBeUndefined();
    expect(parseQuery(departmentQuerySchema, { dept: '' }).dept).toBeUndefined();
    expect(parseQuery(departmentQuerySchema, { dept: ['a', 'b'] }).dept).toBeUndefined();
    expect(parseQuery(departmentQuerySchema, { dept: 'cardiology', other: 'x' })).toEqual({ dept: 'cardiology' });
    expect(parseQuery(versionRangeSchema, { from: '1', to: '' })).toEqual({ from: '1', to: undefined });
    expect(parseQuery(amendmentListSchema, undefined).status).toBeUndefined();
  });

  it('R-11: an amendment request needs a reason (trimmed); anything else is governance.reason-missing', () => {
    expect(parseAmendmentRequest({ reason: '  更正诊断 ', extra: 1 })).toEqual({ reason: '更正诊断' });
    for (const body of [undefined, null, 'text', [], {}, { reason: '   ' }, { reason: 42 }]) {
      let error: unknown;
      try {
        parseAmendmentRequest(body);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GovernanceError);
      expect(error).toMatchObject({ code: GovernanceErrorCode.ReasonMissing, message: 'An amendment says why: send {"reason": "…"} (R-11)' });
    }
  });

  it('R-11: an approval may carry a note (anything but text is none); a refusal must say why', () => {
    expect(parseAmendmentDecision(true, undefined)).toEqual({});
    expect(parseAmendmentDecision(true, [1])).toEqual({});
    expect(parseAmendmentDecision(true, { note: 7 }).note).toBeUndefined();
    expect(parseAmendmentDecision(true, { note: ' ok ' })).toEqual({ note: 'ok' });
    expect(parseAmendmentDecision(false, { note: ' 理由不足 ' })).toEqual({ note: '理由不足' });
    expect(() => parseAmendmentDecision(false, { note: ' ' })).toThrow('A refusal says why: send {"note": "…"}');
    expect(() => parseAmendmentDecision(false, {})).toThrow(GovernanceError);
  });
});

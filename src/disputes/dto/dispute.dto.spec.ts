import { DisputeError, DisputeErrorCode } from '../disputes.errors.js';
import { confirmationSchema, listQuerySchema, parseDisputeInput, parseDisputeRequest, sealSchema, unsealSchema } from './dispute.dto.js';

const DIGEST = 'ab'.repeat(32);

/** The 400 a malformed request gets: its code and message. */
function refusal(parse: () => unknown): { code: string; message: string } {
  try {
    parse();
  } catch (e) {
    if (e instanceof DisputeError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('parsed');
}

describe('disputes requests, parsed at the edge (R-40…R-44)', () => {
  it('R-40/R-44: a case names every problem at once; a public incident names its team; duplicates go', () => {
    const bad = refusal(() => parseDisputeRequest({ patient: 'Patient/a b', trigger: 'rumour', team: ['dr-li'] }));
    expect(bad.code).toBe(DisputeErrorCode.Invalid);
    expect(bad.message).toMatch(/^Not a valid dispute case: /);
    for (const field of ['patient:', 'trigger:', 'reason:', 'team:']) expect(bad.message).toContain(field);
    expect(parseDisputeRequest({ patient: 'p1', reason: 'r', trigger: 'public-incident', team: ['Practitioner/a', 'Practitioner/a'] }).team).toEqual(['Practitioner/a']);
    expect(parseDisputeRequest({ patient: 'p1', reason: 'r', scope: { kind: 'date-range', from: '2026-11-01', to: '2026-11-28' } }).scope).toEqual({
      kind: 'date-range',
      from: '2026-11-01',
      to: '2026-11-28',
    });
    expect(refusal(() => parseDisputeRequest({ patient: 'p1', reason: 'r', scope: { kind: 'encounters', encounters: [] } })).message).toContain('scope.encounters');
    expect(refusal(() => parseDisputeRequest({ patient: 'p1', reason: 'r', scope: { kind: 'everything' } })).message).toContain('scope.kind');
  });

  it('R-40/R-43: a confirmation is a witness of a seal (of a digest, or none), of an unseal, or an approval with its basis and reason', () => {
    expect(parseDisputeInput(confirmationSchema, { step: 'seal', inventoryDigest: DIGEST })).toEqual({ step: 'seal', inventoryDigest: DIGEST });
    expect(parseDisputeInput(confirmationSchema, { step: 'seal', inventoryDigest: '' })).toEqual({ step: 'seal' });
    expect(parseDisputeInput(confirmationSchema, { step: 'unseal', basis: 'both-sides' })).toEqual({ step: 'unseal' });
    expect(parseDisputeInput(confirmationSchema, { step: 'unseal', basis: 'resolved', reason: ' 调解结案 ' })).toEqual({
      step: 'unseal',
      approval: { basis: 'resolved', reason: '调解结案' },
    });
    expect(refusal(() => parseDisputeInput(confirmationSchema, { step: 'seal', inventoryDigest: 'not-a-digest' })).message).toMatch(/^inventoryDigest: /);
    expect(refusal(() => parseDisputeInput(confirmationSchema, { step: 'unseal', basis: 'no-claim', reason: '  ' })).message).toMatch(/^reason: /);
    expect(refusal(() => parseDisputeInput(confirmationSchema, { step: 'unseal', basis: 'whenever' })).message).toMatch(/^basis: /);
    expect(refusal(() => parseDisputeInput(confirmationSchema, {})).message).toBe('step: seal or unseal');
    expect(refusal(() => parseDisputeInput(confirmationSchema, null)).code).toBe(DisputeErrorCode.Invalid);
  });

  it('R-40/R-43: a seal or an unseal carries the patient side as given: what is missing of it is the step\'s 422, not a malformed request', () => {
    expect(parseDisputeInput(sealSchema, { patientWitness: { name: '王' } })).toEqual({ patientWitness: { name: '王' } });
    expect(parseDisputeInput(sealSchema, { inventoryDigest: DIGEST })).toEqual({ inventoryDigest: DIGEST, patientWitness: undefined });
    expect(refusal(() => parseDisputeInput(sealSchema, { inventoryDigest: 'x' })).code).toBe(DisputeErrorCode.Invalid);
    expect(parseDisputeInput(unsealSchema, { basis: 'both-sides' })).toEqual({ basis: 'both-sides' });
    expect(refusal(() => parseDisputeInput(unsealSchema, { basis: 'whenever' })).message).toBe('basis: both-sides, resolved or no-claim (R-43)');
  });

  it('a case list is filtered by one patient and one status; empty or repeated parameters filter nothing', () => {
    expect(parseDisputeInput(listQuerySchema, { patient: 'Patient/p1', status: 'sealed' })).toEqual({ patient: 'p1', status: 'sealed' });
    expect(parseDisputeInput(listQuerySchema, { patient: ['p1', 'p2'], status: '' })).toEqual({ patient: undefined, status: undefined });
    expect(parseDisputeInput(listQuerySchema, {})).toEqual({ patient: undefined, status: undefined });
  });
});

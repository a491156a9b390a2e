import { copyRefusal, separationBreach, type JudgedVersion } from './release-rules.js';

const v = (version: string, patient: string | undefined, allowed = true, rule?: string): JudgedVersion => ({ version, patient, allowed, rule });

describe('the version rule for copies (issue #12, R-07, R-30)', () => {
  it('R-30: the same version, the patient\'s record, allowed: copied', () => {
    const same = v('3', 'p1');
    expect(copyRefusal('p1', same, same)).toBeUndefined();
  });

  it('R-07: a version allowed by its own facts is refused when the current version is not (labelled R since)', () => {
    const reason = copyRefusal('p1', v('1', 'p1'), v('2', 'p1', false));
    expect(reason).toContain('access policy');
    expect(reason).toContain('its current version 2');
    expect(reason).toContain('no rule of the office allows it');
  });

  it('R-07: the current version allowed does not make an older, refused version copyable', () => {
    expect(copyRefusal('p1', v('1', 'p1', false, 'dispute d1 (R-44)'), v('2', 'p1'))).toContain('version 1: rule dispute d1 (R-44)');
  });

  it('R-30: a record moved to another patient since the version: not in this patient\'s copy, whatever the policy says', () => {
    expect(copyRefusal('p1', v('1', 'p1'), v('2', 'p2'))).toContain('moved to Patient/p2 since (current version 2)');
  });

  it('R-30: a version that was another patient\'s record: not in this patient\'s copy', () => {
    expect(copyRefusal('p1', v('1', 'p2'), v('2', 'p1'))).toBe(
      'version 1 is the record of Patient/p2, not of Patient/p1: a copy holds only the patient\'s own record (R-30)',
    );
    expect(copyRefusal('p1', v('1', undefined), v('1', undefined))).toContain('record of no patient');
  });
});

describe('separation of duties for copy requests (R-34)', () => {
  it('R-34: the clerk who received or verified the request is named with what they did and who did the rest', () => {
    expect(separationBreach('a', { receivedBy: 'a', verifiedBy: 'a' })).toBe('a received and verified this request');
    expect(separationBreach('a', { receivedBy: 'a', verifiedBy: 'b' })).toBe('a received this request (verified by b)');
    expect(separationBreach('b', { receivedBy: 'a', verifiedBy: 'b' })).toBe('b verified this request (received by a)');
  });

  it('R-34: a clerk who did neither may approve', () => {
    expect(separationBreach('c', { receivedBy: 'a', verifiedBy: 'b' })).toBeUndefined();
    expect(separationBreach('c', { receivedBy: 'a' })).toBeUndefined();
  });
});

import { idNumbersShown, maskIdNumber, shownIdNumber } from './id-masking.js';

describe('ID numbers as people who need not know them read them (issue #18)', () => {
  it('a resident ID number keeps its last four characters only, its length untold', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('****002X');
    expect(maskIdNumber(' 110101199001011234 ')).toBe('****1234');
    expect(maskIdNumber('E12345678')).toBe('****5678');
  });

  it('at least four characters stay hidden: a short number keeps fewer, one of four or fewer none', () => {
    expect(maskIdNumber('123456')).toBe('****56');
    expect(maskIdNumber('12345678')).toBe('****5678');
    expect(maskIdNumber('1234')).toBe('****');
    expect(maskIdNumber('')).toBe('****');
  });

  it('characters outside the BMP count as one (no half of a surrogate pair is shown)', () => {
    expect(maskIdNumber('𠀀𠀁𠀂𠀃𠀄𠀅𠀆𠀇')).toBe('****𠀄𠀅𠀆𠀇');
  });

  it('whole for a role the policy names, masked for every other', () => {
    const visibleTo = ['record-room', 'disputes-officer'];
    expect(idNumbersShown(['record-room'], visibleTo)).toBe('whole');
    expect(idNumbersShown(['attending', 'disputes-officer'], visibleTo)).toBe('whole');
    expect(idNumbersShown(['medical-affairs'], visibleTo)).toBe('masked');
    expect(idNumbersShown([], visibleTo)).toBe('masked');
    expect(idNumbersShown(['record-room'], [])).toBe('masked');
    expect(shownIdNumber('110101199001011234', 'whole')).toBe('110101199001011234');
    expect(shownIdNumber('110101199001011234', 'masked')).toBe('****1234');
  });
});

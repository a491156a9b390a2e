import fc from 'fast-check';
import { documentText, fingerprints, normalize, sharedPassage } from './copy-paste.js';

const chars = fc.constantFrom(...'患者主诉胸闷气短三年加重伴夜间阵发性呼吸困难一周活动后明显休息可缓解无发热咳嗽abcdefghij0123456789，。'.split(''));
const text = (min: number, max: number) => fc.array(chars, { minLength: min, maxLength: max }).map((a) => a.join(''));

describe('copy-paste detection (R-16)', () => {
  it('R-16: any passage of 50+ characters shared by two texts leaves a shared fingerprint, and is found and measured', () => {
    fc.assert(
      fc.property(text(0, 300), text(0, 300), text(50, 120), (a, b, passage) => {
        const x = a + passage + b;
        const y = b.split('').reverse().join('') + passage + a.slice(0, 40);
        const shared = fingerprints(x, 50).filter((h) => new Set(fingerprints(y, 50)).has(h));
        expect(shared.length).toBeGreaterThan(0);
        expect((sharedPassage(x, y, 50) ?? '').length).toBeGreaterThanOrEqual(passage.length);
      }),
      { numRuns: 200 },
    );
  });

  it('R-16: a shared passage shorter than the threshold is not a copy', () => {
    const passage = '患者主诉胸闷气短三年加重伴夜间阵发性呼吸困难一周活动后明显休息可缓解无发热咳嗽abcdefghij'.slice(0, 49);
    expect(sharedPassage(`甲${passage}乙`, `丙${passage}丁`, 50)).toBeUndefined();
    expect(sharedPassage(`甲${passage}X乙`, `丙${passage}X丁`, 50)).toBe(`${passage}X`);
  });

  it('R-16: the text is the narrative and plain-text attachments, whitespace collapsed; texts under the threshold have no fingerprints', () => {
    const t = documentText({
      resourceType: 'Composition',
      status: 'final',
      type: {},
      date: '2026-11-29',
      author: [],
      title: 't',
      section: [{ text: { status: 'generated', div: '<div><p>第一段&amp;</p>\n  <p>第二段</p></div>' }, section: [{ text: { status: 'generated', div: '<div>嵌套</div>' } }] }],
    });
    expect(t).toBe('第一段& 第二段 嵌套');
    const ref = documentText({
      resourceType: 'DocumentReference',
      status: 'current',
      content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from('附件 文本').toString('base64') } }],
      description: '描述',
    });
    expect(ref).toBe('描述 附件 文本');
    expect(normalize(' a \n\t b ')).toBe('a b');
    expect(fingerprints('短文本', 50)).toEqual([]);
  });
});

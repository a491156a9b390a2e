import { createHash } from 'node:crypto';
import type { Composition } from '@medplum/fhirtypes';
import * as mupdf from 'mupdf';
import { pdfPages } from '../../test/support/pdf-text.js';
import { footerLine, MARGINS, PAGE, renderPdf, type PdfDocumentInput } from './pdf-renderer.js';
import { resourceSection } from './resource-text.js';

const HASH = createHash('sha256').update('certified content').digest('hex');
const STAMP = '示例医院 病历管理专用章';
const WATERMARK = '张三 打印 2026-11-29 10:00';
const PARAGRAPH = '患者王小明，男，45岁，因反复胸闷气短三年，加重伴夜间阵发性呼吸困难一周入院。活动后明显，休息可缓解，无发热、咳嗽。';

/** A copy long enough to flow over several pages: 12 sections of 12 wrapped paragraphs each. */
function copy(overrides: Partial<PdfDocumentInput> = {}): PdfDocumentInput {
  return {
    title: '病历复印件',
    reference: 'CR-2026-0001',
    stamp: STAMP,
    watermark: WATERMARK,
    footerHash: HASH,
    createdAt: new Date('2026-11-29T02:00:00Z'),
    author: '病案室 李四',
    sections: Array.from({ length: 12 }, (_, s) => ({
      heading: `Composition/c${s} v1 · 病程记录 ${s + 1}`,
      lines: Array.from({ length: 12 }, (_, l) => `${l + 1}. ${PARAGRAPH}`),
    })),
    ...overrides,
  };
}

const squash = (text: string) => text.replace(/\s+/g, '');

describe('renderPdf (R-31 certified copy)', () => {
  it('R-31: every page carries the title, the reference, page x of n, the hash, the stamp and the watermark', async () => {
    const pdf = await renderPdf(copy());
    const pages = await pdfPages(pdf.bytes);

    expect(pdf.pages).toBeGreaterThanOrEqual(3);
    expect(pages).toHaveLength(pdf.pages);
    pages.forEach((text, i) => {
      expect(text).toContain('病历复印件');
      expect(text).toContain(footerLine('CR-2026-0001', i + 1, pdf.pages));
      expect(text).toContain(`第 ${i + 1} / ${pdf.pages} 页`);
      expect(text).toContain(`page ${i + 1}/${pdf.pages}`);
      expect(text).toContain(`SHA-256 ${HASH}`);
      // The seal prints one line per space-separated part.
      expect(text.replace(/\s+/g, ' ')).toContain(STAMP);
      expect(text).toContain(WATERMARK);
    });
  });

  it('R-31: the body flows across pages and its Chinese text round-trips through text extraction', async () => {
    // Without a watermark: its tiles are clipped at the page edges, and would split the text.
    const pdf = await renderPdf(copy({ watermark: undefined }));
    const pages = await pdfPages(pdf.bytes);
    // The page furniture is drawn after the body, so it sits between the halves of a paragraph that crosses a page.
    const furniture = (i: number) => ['病历复印件', `SHA-256 ${HASH}`, ...STAMP.split(' '), footerLine('CR-2026-0001', i + 1, pdf.pages)];
    // Wrapped Chinese lines break anywhere: compare without whitespace.
    const body = squash(pages.map((text, i) => furniture(i).reduce((t, f) => t.split(f).join(''), text)).join(''));
    for (let s = 0; s < 12; s++) expect(body).toContain(squash(`Composition/c${s} v1 · 病程记录 ${s + 1}`));
    expect(body.split(squash(PARAGRAPH))).toHaveLength(12 * 12 + 1);
    expect(body).toContain('12.患者王小明');
  });

  it('embeds a Noto Sans SC subset (with a ToUnicode map) rather than a standard font', async () => {
    const latin1 = (await renderPdf(copy({ sections: [{ heading: '王小明', lines: ['王小明'] }] }))).bytes.toString('latin1');
    expect(latin1).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansSC-Regular/);
    expect(latin1).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansSC-Bold/);
    expect(latin1).toContain('/ToUnicode');
    expect(latin1).not.toContain('/Helvetica');
  });

  it('is deterministic: the same input gives the same bytes; another creation time or body gives others; sha256 is that of the bytes', async () => {
    const a = await renderPdf(copy());
    const b = await renderPdf(copy());
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(b.sha256).toBe(a.sha256);
    expect(a.sha256).toBe(createHash('sha256').update(a.bytes).digest('hex'));
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);

    expect((await renderPdf(copy({ createdAt: new Date('2026-11-29T02:00:01Z') }))).sha256).not.toBe(a.sha256);
    expect((await renderPdf(copy({ sections: [{ heading: '王小明', lines: ['另一份'] }] }))).sha256).not.toBe(a.sha256);
  });

  it('prints no stamp, watermark or hash line when none is given; an empty body is still one numbered page', async () => {
    const pdf = await renderPdf(copy({ stamp: undefined, watermark: undefined, footerHash: undefined, sections: [] }));
    const pages = await pdfPages(pdf.bytes);
    expect(pdf.pages).toBe(1);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toContain('CR-2026-0001 · 第 1 / 1 页 · page 1/1');
    expect(pages[0]).not.toContain('SHA-256');
    expect(pages[0]).not.toContain('专用章');
    expect(pages[0]).not.toContain('打印');
  });

  it('R-40: the footer names what its hash is a digest of when told (a seal list prints its inventory digest, not a file hash)', async () => {
    const pdf = await renderPdf(copy({ footerHashLabel: '清单摘要 Inventory digest', sections: [{ heading: '封存清单', lines: ['Encounter/e1 v1'] }] }));
    const [page] = await pdfPages(pdf.bytes);
    expect(page).toContain(`清单摘要 Inventory digest ${HASH}`);
    expect(page).not.toContain(`SHA-256 ${HASH}`);
  });

  it('R-31: a Composition copied through resourceSection reads back with its heading and narrative', async () => {
    const composition: Composition = {
      resourceType: 'Composition',
      id: 'c1',
      meta: { versionId: '3' },
      status: 'final',
      type: { text: '入院记录' },
      date: '2026-11-28T09:00:00+08:00',
      title: '入院记录',
      author: [{ display: '赵医生' }],
      section: [{ title: '主诉', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>胸闷气短三年&amp;加重一周</p></div>' } }],
    };
    const pages = await pdfPages((await renderPdf(copy({ sections: [resourceSection(composition, { timeZone: 'Asia/Shanghai', names: new Map() })] }))).bytes);
    expect(pages[0]).toContain('Composition/c1 v3 · 入院记录');
    expect(pages[0]).toContain('【主诉】');
    expect(pages[0]).toContain('胸闷气短三年&加重一周');
    expect(pages[0]).toContain('作者 author: 赵医生');
  });

  it('R-33: the stamp is drawn in the ink it is given (policy settings.stamp.colour), circle and words; an unreadable colour falls back to seal red', async () => {
    /** Whether a pixel of `hex` is within 3 points of the stamp circle's rightmost point on page 1. */
    const inkAtStamp = async (input: PdfDocumentInput, hex: string) => {
      const pdf = await renderPdf(input);
      const scale = 2;
      const pixmap = mupdf.Document.openDocument(pdf.bytes, 'application/pdf').loadPage(0).toPixmap(mupdf.Matrix.scale(scale, scale), mupdf.ColorSpace.DeviceRGB);
      const [width, pixels] = [pixmap.getWidth(), pixmap.getPixels()];
      const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const x = PAGE.width - MARGINS.right;
      const y = PAGE.height - MARGINS.bottom / 2 - 4;
      for (let dy = -3 * scale; dy <= 3 * scale; dy++) {
        for (let dx = -3 * scale; dx <= 3 * scale; dx++) {
          const i = (Math.round(y * scale + dy) * width + Math.round(x * scale + dx)) * 3;
          if (want.every((c, k) => Math.abs(pixels[i + k] - c) < 40)) return true;
        }
      }
      return false;
    };
    const small = { watermark: undefined, sections: [{ heading: '印章', lines: ['一'] }] };
    expect(await inkAtStamp(copy({ ...small, stampColour: '#1040c0' }), '#1040c0')).toBe(true);
    expect(await inkAtStamp(copy({ ...small, stampColour: '#1040c0' }), '#c8102e')).toBe(false);
    expect(await inkAtStamp(copy({ ...small, stampColour: 'blue; evil' }), '#c8102e')).toBe(true);
    expect(await inkAtStamp(copy(small), '#c8102e')).toBe(true);
    // The words keep their lines whatever the ink.
    const [page] = await pdfPages((await renderPdf(copy({ ...small, stampColour: '#1040c0' }))).bytes);
    expect(page.replace(/\s+/g, ' ')).toContain(STAMP);
  });

  it('R-40: the render says on which page each section starts and how many pages it spans (a sealed inventory prints 页数 per record)', async () => {
    const long = Array.from({ length: 120 }, (_, l) => `${l + 1}. ${PARAGRAPH}`);
    const pdf = await renderPdf(
      copy({
        watermark: undefined,
        sections: [
          { heading: '甲 short', lines: ['一行'] },
          { heading: '乙 long', lines: long },
          { heading: '丙 own page', lines: ['另起一页'], newPage: true },
          { heading: '丁 after', lines: ['同页'] },
        ],
      }),
    );
    const pages = (await pdfPages(pdf.bytes)).map(squash);
    expect(pdf.sectionPages).toHaveLength(4);
    const [a, b, c, d] = pdf.sectionPages;
    expect(a).toEqual({ first: 1, count: 1 });
    expect(b.first).toBe(1);
    expect(b.count).toBeGreaterThanOrEqual(3);
    expect(c).toEqual({ first: b.first + b.count, count: 1 });
    expect(d).toEqual({ first: c.first, count: 1 });
    expect(pdf.pages).toBe(c.first);
    // Each section's heading is on the page it is said to start on; the long one's last line on its last page.
    for (const [i, heading] of ['甲short', '乙long', '丙ownpage', '丁after'].entries()) expect({ heading, on: pages[pdf.sectionPages[i].first - 1].includes(heading) }).toEqual({ heading, on: true });
    expect(pages[b.first + b.count - 2]).toContain(squash(`120. ${PARAGRAPH}`).slice(0, 20));
  });
});

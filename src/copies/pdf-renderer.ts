import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A titled block of the body: its lines are paragraphs, wrapped to the page width; then its figure, if any. */
export interface PdfSection {
  heading: string;
  lines: string[];
  /** A table or a chart drawn after the lines (orders, lab results, the temperature chart). */
  figure?: PdfFigure;
  /** The section starts a page of its own (a chart printed as its own sheet). */
  newPage?: boolean;
}

/**
 * A drawing in the body's flow: `draw` starts at `doc.y` inside `frame`, adds pages as it
 * needs (the furniture is drawn on every page afterwards), and leaves `doc.y` below what it
 * drew. Fonts `regular` and `bold` (Noto Sans SC) are registered.
 */
export interface PdfFigure {
  draw(doc: PDFKit.PDFDocument, frame: PdfFrame): void;
}

/** Where a figure may draw: the body's left edge and width, in points. */
export interface PdfFrame {
  left: number;
  width: number;
}

/**
 * What a certified copy or a seal list prints: body sections, and on every page the
 * marks that tie a loose sheet back to its request: title, reference, page x of y, stamp,
 * watermark and the hash of the certified content.
 */
export interface PdfDocumentInput {
  /** Printed as every page's header and as the document title (e.g. `病历复印件`, `封存清单`). */
  title: string;
  /** The copy request id or dispute case id, printed in every page's footer. */
  reference: string;
  /** Seal text (e.g. `某某医院 病历管理专用章`), printed in a circle on every page; spaces break it into lines. */
  stamp?: string;
  /** The stamp's ink, `#rrggbb` (policy `settings.stamp.colour`): its circle and its text; default a seal red. */
  stampColour?: string;
  /** Repeated diagonally in light grey across every page (who printed it, when). */
  watermark?: string;
  /** SHA-256 hex of the certified content, printed in every page's footer as `<footerHashLabel> <hash>`. */
  footerHash?: string;
  /**
   * What `footerHash` is a digest of, printed before it (default `SHA-256`): a sealed inventory
   * prints its inventory digest, which is not the hash of the copy's bytes.
   */
  footerHashLabel?: string;
  /** The body; long lines wrap and sections flow across pages. */
  sections: PdfSection[];
  /** The PDF's CreationDate and ModDate: the same input then yields the same bytes. */
  createdAt: Date;
  author?: string;
}

/** The PDF, its page count, and the SHA-256 hex of its bytes (what an audit entry or a seal records). */
export interface RenderedPdf {
  bytes: Buffer;
  pages: number;
  sha256: string;
  /**
   * One per input section, in order: the 1-based page its heading is printed on, and how many
   * pages it spans (to its last line or figure): what a sealed inventory prints as 页数 per record.
   */
  sectionPages: { first: number; count: number }[];
}

const FONT_FILES = {
  regular: '@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf',
  bold: '@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf',
} as const;
type FontName = keyof typeof FONT_FILES;

/**
 * The font files' bytes, read once per process: each is ~10 MB, and the bytes never change
 * while the process runs. pdfkit still parses the font (fontkit) once per document and
 * embeds only the glyphs used (a subset with a ToUnicode map, so the text stays extractable).
 */
const fontBytes = new Map<FontName, Buffer>();

function font(name: FontName): Buffer {
  let bytes = fontBytes.get(name);
  if (!bytes) {
    bytes = readFileSync(createRequire(import.meta.url).resolve(FONT_FILES[name]));
    fontBytes.set(name, bytes);
  }
  return bytes;
}

/** A4 in points, and the page furniture's geometry (points; origin top left). */
export const PAGE = { width: 595.28, height: 841.89 };
export const MARGINS = { top: 72, bottom: 112, left: 56, right: 56 };
const BODY = { size: 10.5, lineGap: 3 };
const HEADING = { size: 12.5 };
const FOOTER = { size: 8 };
const STAMP = { radius: 40, colour: '#c8102e' };
const WATERMARK = { size: 14, angle: -30, opacity: 0.12, color: '#808080', rowGap: 120, columnGap: 90 };

/**
 * The PDF of a document: A4, Noto Sans SC (Chinese and Latin), body sections flowing across
 * pages, then on every page (pdfkit `bufferPages`, so the page count is known) the header,
 * footer (`<reference> · 第 x / y 页 · page x/y`, `<footerHashLabel> <footerHash>`), stamp and watermark.
 *
 * Deterministic: the same input gives the same bytes. The info dictionary's dates are
 * `createdAt`, and pdfkit derives the trailer /ID from the info dictionary alone (MD5 of its
 * entries, `PDFSecurity.generateFileID`; it offers no option to set it), so /ID depends on
 * title, reference (Subject), author and `createdAt` but not on the body: two documents that
 * share all four also share an /ID. The font subset's tag comes from pdfkit's font counter,
 * not from randomness. Streams are deflated by Node's zlib: the bytes are reproducible on
 * one Node build (verified across processes), but another zlib (Node version, or CPU-specific
 * code paths) may compress differently, so record the `sha256` of the bytes handed out
 * rather than expecting a later re-render to reproduce it elsewhere.
 */
export async function renderPdf(input: PdfDocumentInput): Promise<RenderedPdf> {
  const PDFDocument = await pdfkit();
  const doc = new PDFDocument({
    size: 'A4',
    // 1.4: the watermark's transparency (ExtGState /ca) is a PDF 1.4 feature; pdfkit defaults to 1.3.
    pdfVersion: '1.4',
    margins: MARGINS,
    bufferPages: true,
    lang: 'zh-CN',
    displayTitle: true,
    info: {
      Title: input.title,
      Subject: input.reference,
      ...(input.author ? { Author: input.author } : {}),
      Creator: 'ChartWarden',
      CreationDate: input.createdAt,
      ModDate: input.createdAt,
    },
  });
  const bytes = collect(doc);
  doc.registerFont('regular', font('regular'));
  doc.registerFont('bold', font('bold'));

  const sectionPages = writeSections(doc, input.sections);
  const { start, count } = doc.bufferedPageRange();
  for (let i = 0; i < count; i++) {
    doc.switchToPage(start + i);
    drawWatermark(doc, input.watermark);
    drawHeader(doc, input.title);
    drawFooter(doc, input, i + 1, count);
    drawStamp(doc, input.stamp, stampInk(input.stampColour));
  }
  doc.end();
  const pdf = await bytes;
  return { bytes: pdf, pages: count, sha256: createHash('sha256').update(pdf).digest('hex'), sectionPages };
}

/**
 * pdfkit, loaded by the first paper printed: most processes print none (a HIS's server between
 * copies, the CLI, each test file that starts a server), and loading it cost every start about
 * 0.2 s.
 */
let loaded: Promise<typeof import('pdfkit')> | undefined;
async function pdfkit(): Promise<typeof import('pdfkit')> {
  loaded ??= import('pdfkit').then((m) => m.default);
  return loaded;
}

function collect(doc: PDFKit.PDFDocument): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
}

/** Writes the body; returns where each section landed (1-based first page, pages spanned). */
function writeSections(doc: PDFKit.PDFDocument, sections: readonly PdfSection[]): RenderedPdf['sectionPages'] {
  const width = PAGE.width - MARGINS.left - MARGINS.right;
  // Pages are only ever added at the end while the body is written: the current page is the last one.
  const page = () => doc.bufferedPageRange().count;
  return sections.map((section, i) => {
    if (section.newPage && doc.y > MARGINS.top) doc.addPage();
    else if (i > 0) doc.moveDown(0.8);
    // A heading left alone at the foot of a page reads as belonging to nothing: keep it with its first line.
    const heading = printable(section.heading);
    doc.font('bold').fontSize(HEADING.size);
    const needed = doc.heightOfString(heading, { width }) + BODY.size * 2 + BODY.lineGap;
    if (doc.y + needed > doc.page.maxY()) doc.addPage();
    const first = page();
    doc.fillColor('black').text(heading, MARGINS.left, doc.y, { width });
    doc.moveDown(0.3);
    doc.font('regular').fontSize(BODY.size);
    for (const line of section.lines) {
      if (line.trim() === '') doc.moveDown(0.5);
      else doc.text(printable(line), MARGINS.left, doc.y, { width, lineGap: BODY.lineGap });
    }
    if (section.figure) {
      doc.moveDown(0.3);
      section.figure.draw(doc, { left: MARGINS.left, width });
      doc.font('regular').fontSize(BODY.size).fillColor('black');
    }
    return { first, count: page() - first + 1 };
  });
}

/**
 * The line as the font can show it: a tab becomes spaces and other control characters are
 * dropped, since the font has no glyph for them and would print a box.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\t/g, '    ').replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '');
}

// The furniture below is drawn at explicit positions with `lineBreak: false`: text placed
// below the bottom margin would otherwise make pdfkit start a new page.

function drawHeader(doc: PDFKit.PDFDocument, title: string): void {
  doc.font('bold').fontSize(11).fillColor('black');
  const text = printable(title);
  doc.text(text, (PAGE.width - doc.widthOfString(text)) / 2, 30, { lineBreak: false });
  doc.moveTo(MARGINS.left, 52).lineTo(PAGE.width - MARGINS.right, 52).lineWidth(0.5).strokeColor('#999999').stroke();
}

function drawFooter(doc: PDFKit.PDFDocument, input: PdfDocumentInput, page: number, pages: number): void {
  const top = PAGE.height - MARGINS.bottom + 16;
  // The rule stops short of the stamp's place, so the seal is not drawn over a line.
  doc.moveTo(MARGINS.left, top).lineTo(PAGE.width - MARGINS.right - 2 * STAMP.radius - 12, top).lineWidth(0.5).strokeColor('#999999').stroke();
  doc.font('regular').fontSize(FOOTER.size).fillColor('#333333');
  doc.text(footerLine(input.reference, page, pages), MARGINS.left, top + 10, { lineBreak: false });
  if (input.footerHash) doc.text(`${printable(input.footerHashLabel ?? 'SHA-256')} ${input.footerHash}`, MARGINS.left, top + 24, { lineBreak: false });
}

/** The footer's page line: `<reference> · 第 x / y 页 · page x/y`. */
export function footerLine(reference: string, page: number, pages: number): string {
  return `${printable(reference)} · 第 ${page} / ${pages} 页 · page ${page}/${pages}`;
}

/** A seal: red circle, its text centred inside, one line per space-separated part, sized to fit. */
function drawStamp(doc: PDFKit.PDFDocument, stamp: string | undefined, ink: string): void {
  const lines = printable(stamp ?? '').split(/\s+/).filter((l) => l !== '');
  if (lines.length === 0) return;
  const cx = PAGE.width - MARGINS.right - STAMP.radius;
  const cy = PAGE.height - MARGINS.bottom / 2 - 4;
  doc.save();
  doc.circle(cx, cy, STAMP.radius).lineWidth(1.8).strokeColor(ink).stroke();
  doc.font('bold').fontSize(1);
  const widest = Math.max(...lines.map((l) => doc.widthOfString(l)));
  // The text spans at most ~80 % of the diameter, so the corners of its block stay inside the circle.
  const size = Math.min(11, (STAMP.radius * 1.6) / widest, (STAMP.radius * 1.2) / (lines.length * 1.25));
  doc.fontSize(size).fillColor(ink);
  const lineHeight = size * 1.25;
  let y = cy - (lines.length * lineHeight) / 2;
  for (const line of lines) {
    doc.text(line, cx - doc.widthOfString(line) / 2, y, { lineBreak: false });
    y += lineHeight;
  }
  doc.restore();
}

/** The stamp's ink: the colour given when it is `#rrggbb`, else the default seal red (pdfkit would silently draw an unknown colour black). */
function stampInk(colour: string | undefined): string {
  return colour && /^#[0-9a-fA-F]{6}$/.test(colour) ? colour : STAMP.colour;
}

/** The watermark tiled along rows rotated about the page centre, covering the whole page whatever the angle. */
function drawWatermark(doc: PDFKit.PDFDocument, watermark: string | undefined): void {
  const text = printable(watermark ?? '').trim();
  if (text === '') return;
  const cx = PAGE.width / 2;
  const cy = PAGE.height / 2;
  const half = Math.hypot(PAGE.width, PAGE.height) / 2;
  doc.save();
  doc.rotate(WATERMARK.angle, { origin: [cx, cy] });
  doc.font('regular').fontSize(WATERMARK.size).fillColor(WATERMARK.color).fillOpacity(WATERMARK.opacity);
  const step = doc.widthOfString(text) + WATERMARK.columnGap;
  for (let row = 0, y = cy - half; y < cy + half; row++, y += WATERMARK.rowGap) {
    // Alternate rows shift by half a step, so the marks do not line up into columns.
    for (let x = cx - half - (row % 2) * (step / 2); x < cx + half; x += step) {
      doc.text(text, x, y, { lineBreak: false });
    }
  }
  doc.restore();
}

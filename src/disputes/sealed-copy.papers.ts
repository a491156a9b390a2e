import type { Resource } from '@medplum/fhirtypes';
import { zoneLabel } from '../common/hospital-time.js';
import { canonicalBundle, documentBundle, type ManifestEntry } from '../copies/document-bundle.js';
import type { Paper } from '../copies/paper.js';
import { patientBlockSection, type PatientBlock } from '../copies/patient-block.js';
import { renderPdf, type PdfDocumentInput, type PdfSection, type RenderedPdf } from '../copies/pdf-renderer.js';
import { tableFigure } from '../copies/pdf-table.js';
import { resourceSection } from '../copies/resource-text.js';
import { withSealedInventory, type InventoryLine } from './domain/dispute-case.js';
import type { DisputeCase, InventoryItem, SealWitnesses } from './domain/dispute-records.js';
import {
  digestSection,
  hospitalSideText,
  officerOf,
  patientSideText,
  practitionerOnPaper,
  printedTime,
  printedRecordDate,
  recordName,
  scopeText,
  signatureSection,
  stampOf,
  type PaperSettings,
} from './dispute-paper-parts.js';

/** Everything a sealed copy states: the case, who was at the table, and the inventory as of this copy (R-40, R-41). */
export interface SealedCopyContent {
  dispute: DisputeCase;
  /** The copy's number: 1 for the seal, then one per supplement. */
  n: number;
  kind: 'seal' | 'supplement';
  /** The patient as printed at the head of the paper: the visits in scope. */
  patient: PatientBlock;
  /** The officer making the copy (a practitioner reference). */
  author: string;
  at: Date;
  /** The FHIR base the copy's entries are addressed under. */
  baseUrl: string;
  /** The hospital's name, stamp and zone, and the document types' Chinese names (policy). */
  settings: PaperSettings;
  /** Printed names of the practitioners and departments the copy names (the sides, the records' authors), by `Type/id`. */
  names: ReadonlyMap<string, string>;
  witnesses: SealWitnesses;
  /** The inventory digest over `earlier`, `sealed` and `pending`: the one both sides confirm. */
  digest: string;
  /** Lines sealed by earlier copies. */
  earlier: readonly InventoryItem[];
  /** The versions this copy seals, with their content: its lines. */
  entries: readonly ManifestEntry[];
  sealed: readonly InventoryLine[];
  /** Unfinished records, inventoried at the version given and sealed by a later supplement (R-41). */
  pending: readonly InventoryLine[];
  /** The content of the earlier and pending lines at the version inventoried, keyed `Type/id/version`, for their names and dates. */
  contents: ReadonlyMap<string, Resource>;
  /** The patient side's drawn signature (a PNG checked by its bytes), drawn beside their signature line. */
  signaturePng?: Buffer;
}

/**
 * A sealed copy's two files, identical for both sides (R-40): the electronic copy (canonical JSON
 * of its Bundle) and the PDF; and where each record it seals is printed in the PDF, in the order
 * of `sealed` (the pages its inventory table states: 页数).
 */
export interface SealedCopyPapers {
  bundle: { text: string; sha256: string };
  pdf: RenderedPdf;
  recordPages: RecordPages[];
}

/** The key of an inventoried version's content. */
export function versionKey(line: Pick<InventoryLine, 'type' | 'id' | 'version'>): string {
  return `${line.type}/${line.id}/${line.version}`;
}

/**
 * The sealed copy (R-40, R-42): a FHIR `document` Bundle of the versions it seals, stating the
 * inventory digest and the pending lines on its Composition, and the PDF a lay person checks
 * against the records: the patient, the case and both sides by name, the inventory as a table
 * (文书名称, 日期, 版本, 页数 in this PDF, the start of each version's SHA-256), the digest both
 * sides confirmed, each line's full identifiers and hash, the signature lines, then each sealed
 * record; the inventory digest in every page's footer, the hospital's sealing stamp on every page.
 */
export async function sealedCopyPapers(c: SealedCopyContent): Promise<SealedCopyPapers> {
  const document = documentBundle({
    title: '封存清单 Sealed record inventory',
    patient: c.dispute.patient,
    author: c.author,
    date: c.at,
    reference: `Dispute/${c.dispute.id} #${c.n}`,
    baseUrl: c.baseUrl,
    entries: c.entries,
    pending: c.pending.map((p) => `${p.type}/${p.id} v${p.version}`),
  });
  const bundle = canonicalBundle(withSealedInventory(document, c.digest, c.pending));
  return { bundle, ...(await renderWithPages((layout) => pdfInput(c, bundle.sha256, layout))) };
}

/** Where a sealed record is printed in the PDF: the 1-based page its section starts on, and how many pages it spans. */
export interface RecordPages {
  first: number;
  count: number;
}

/** The PDF's input with each sealed record's pages as given (placeholders on the first rendering), where the records' sections start, and which section signs. */
interface PagedInput {
  input: PdfDocumentInput;
  firstRecordSection: number;
  records: number;
  signatures: number;
}

/** How a rendering lays out what it cannot know before it is rendered: the records' pages, and whether the signatures start a page. */
interface Layout {
  pages?: readonly RecordPages[];
  signaturesOnOwnPage: boolean;
}

/**
 * Renders until the pages the inventory table states for each record are the pages the records
 * are printed on: once with placeholders of the same shape, then with the pages found (the
 * table's height does not change with them, so this settles at the second rendering), and with
 * the signature block on a page of its own when it would be split across two. Returns the PDF and
 * the pages it states.
 */
async function renderWithPages(build: (layout: Layout) => PagedInput): Promise<{ pdf: RenderedPdf; recordPages: RecordPages[] }> {
  let layout: Layout = { signaturesOnOwnPage: false };
  for (let attempt = 0; attempt < 5; attempt++) {
    const { input, firstRecordSection, records, signatures } = build(layout);
    const pdf = await renderPdf(input);
    const found = pdf.sectionPages.slice(firstRecordSection, firstRecordSection + records);
    const split = !layout.signaturesOnOwnPage && (pdf.sectionPages[signatures]?.count ?? 1) > 1;
    const settled = layout.pages !== undefined && found.every((p, i) => p.first === layout.pages?.[i].first && p.count === layout.pages[i].count);
    if (settled && !split) return { pdf, recordPages: found };
    layout = { pages: found, signaturesOnOwnPage: layout.signaturesOnOwnPage || split };
  }
  throw new Error('the sealed inventory: the pages of its records did not settle');
}

function pdfInput(c: SealedCopyContent, bundleSha: string, { pages, signaturesOnOwnPage }: Layout): PagedInput {
  const paper: Paper = { timeZone: c.settings.timeZone, names: c.names };
  const rows = inventoryRows(c);
  const front: PdfSection[] = [
    patientBlockSection(c.patient),
    caseSection(c, bundleSha),
    c.kind === 'seal'
      ? digestSection('清单摘要 Inventory digest（医患双方确认 confirmed by both sides）', c.digest, DIGEST_EXPLAINED)
      : digestSection('清单摘要 Inventory digest（截至本份 as of this copy）', c.digest, SUPPLEMENT_DIGEST_EXPLAINED),
    inventorySection(rows, c, pages),
    identifiersSection(rows),
    withDrawnSignature(
      signatureSection(
        c.kind === 'seal' && c.witnesses.patient ? ['医方签字 Hospital side', '患方签字 Patient side'] : ['医方签字 Hospital side', '患方签字（如在场）Patient side, if present'],
        signaturesOnOwnPage,
      ),
      c.signaturePng,
    ),
  ];
  // Each record under its 序号 and Chinese name, as the table lists it, so a reader goes from a row to its pages and back.
  const records = c.entries.map((e, i) => ({
    ...resourceSection(e.resource, paper),
    heading: `${c.earlier.length + i + 1}. ${recordName(e.resource, c.settings)} · ${c.sealed[i].type}/${c.sealed[i].id} v${c.sealed[i].version}`,
  }));
  return {
    input: {
      title: `病历封存清单（${c.kind === 'seal' ? '封存' : `补充封存 第${c.n}份`}）`,
      reference: `纠纷案件 Dispute ${c.dispute.id} · 第${c.n}份 copy #${c.n}`,
      stamp: stampOf(c.settings),
      stampColour: c.settings.stamp.colour,
      footerHash: c.digest,
      footerHashLabel: '清单摘要 Inventory digest',
      createdAt: c.at,
      author: practitionerOnPaper(c.author, c.names),
      sections: [...front, ...records],
    },
    firstRecordSection: front.length,
    records: records.length,
    signatures: front.length - 1,
  };
}

const DIGEST_EXPLAINED = [
  '清单摘要是对本清单每一行（已封存的文书含其版本号和内容的 SHA-256，待补充封存的文书含其版本号）计算的 SHA-256 值，即封存时医患双方核对并确认的数值。任何一份文书的内容或版本改变，这个值就不同。核对时，请将下框中的清单摘要与双方各自所持清单上的逐位比对。',
  'The inventory digest is the SHA-256 over every line of this inventory (sealed lines with their version and hash, pending lines with their version): the value both sides confirmed at sealing.',
];

const SUPPLEMENT_DIGEST_EXPLAINED = [
  '清单摘要是对本清单每一行（已封存的文书含其版本号和内容的 SHA-256，待补充封存的文书含其版本号）计算的 SHA-256 值。本份为补充封存：下框中是截至本份的清单摘要；封存时医患双方确认的清单摘要印在第1份封存清单上。',
  'The inventory digest over every line as of this supplement; the digest both sides confirmed at sealing is printed on copy #1.',
];

/** The case, both sides by name, and the electronic copy's hash (not the inventory digest). */
function caseSection(c: SealedCopyContent, bundleSha: string): PdfSection {
  const { dispute: d, witnesses: w, settings } = c;
  const officer = officerOf(w);
  const patientSide = w.patient
    ? patientSideText(w.patient)
    : w.immediate
      ? '未到场：舆情事件，医院立即封存 (R-44)'
      : c.kind === 'supplement'
        ? '未到场：补充封存由医院进行 (R-41)'
        : '—';
  return {
    heading: '案件 Case',
    lines: [
      `案件编号 Case: ${d.id}`,
      `封存类型 Kind: ${c.kind === 'seal' ? '封存 seal' : `补充封存 supplement（第${c.n}份）`}${d.trigger === 'public-incident' ? ' · 舆情事件 public-opinion incident (R-44)' : ''}`,
      `封存范围 Scope: ${scopeText(d)}`,
      `封存原因 Reason: ${d.reason}`,
      `封存时间 Time: ${printedTime(c.at, settings.timeZone)}`,
      `医方 Hospital side: ${hospitalSideText(w.hospital, c.names, settings)}`,
      ...(officer && officer !== w.hospital.practitioner ? [`经办人 Officer: ${practitionerOnPaper(officer, c.names)}`] : []),
      `患方 Patient side: ${patientSide}`,
      ...(w.patient?.signature
        ? [`患方签名 SHA-256 Patient side's drawn signature: ${w.patient.signature.sha256}`, '  (患方在平板上手写的签名图片，原样保存，可向医患办调取核对 the PNG is kept as drawn)']
        : []),
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      "  (SHA-256 of this copy's electronic Bundle file: not the inventory digest)",
    ],
  };
}

/** One line of the inventory as the table prints it: how it stands and what it is. */
interface InventoryRow {
  no: number;
  line: InventoryLine;
  /** Sealed by an earlier copy (its number), by this one, or pending. */
  state: { kind: 'earlier'; copyNo: number } | { kind: 'sealed'; index: number } | { kind: 'pending' };
  resource?: Resource;
}

/** Every line the inventory digest covers, numbered: sealed by earlier copies, by this copy (in the order printed), then pending. */
function inventoryRows(c: SealedCopyContent): InventoryRow[] {
  const rows: Omit<InventoryRow, 'no'>[] = [
    ...c.earlier.map((i) => ({ line: i.line, state: { kind: 'earlier' as const, copyNo: i.copyNo ?? 0 }, resource: c.contents.get(versionKey(i.line)) })),
    ...c.sealed.map((line, index) => ({ line, state: { kind: 'sealed' as const, index }, resource: c.entries[index]?.resource })),
    ...c.pending.map((line) => ({ line, state: { kind: 'pending' as const }, resource: c.contents.get(versionKey(line)) })),
  ];
  return rows.map((r, i) => ({ ...r, no: i + 1 }));
}

/** The columns of the inventory table, as a reader checks them against the paper. */
const COLUMNS = [
  { header: '序号', weight: 5, align: 'center' as const },
  { header: '文书名称', weight: 28 },
  { header: '日期', weight: 17 },
  { header: '版本', weight: 6, align: 'center' as const },
  { header: '页数', weight: 15 },
  { header: '摘要', weight: 18 },
];

/** The inventory as a ruled table: one row per line, pages as found (a same-shaped placeholder before they are known). */
function inventorySection(rows: readonly InventoryRow[], c: SealedCopyContent, pages: readonly RecordPages[] | undefined): PdfSection {
  const count = (kind: InventoryRow['state']['kind']) => rows.filter((r) => r.state.kind === kind).length;
  const pagesOf = (r: InventoryRow): string => {
    if (r.state.kind === 'earlier') return `已封存(第${r.state.copyNo}次)`;
    if (r.state.kind === 'pending') return '—';
    return pagesText(pages?.[r.state.index] ?? { first: 1, count: 1 });
  };
  return {
    heading: '封存清单 Inventory',
    lines: [
      `共 ${rows.length} 项：本次封存 ${count('sealed')} 项${count('earlier') ? `，此前已封存 ${count('earlier')} 项` : ''}，待补充封存 ${count('pending')} 项` +
        ` (${count('sealed')} sealed${count('earlier') ? `, ${count('earlier')} sealed before` : ''}, ${count('pending')} pending)`,
      `日期：文书本身的日期（${zoneLabel(c.settings.timeZone)}）；页数：该文书在本清单中所占的页数及起始页码；摘要：该版本内容 SHA-256 的前 16 位（完整值见“清单明细”）。`,
    ],
    figure: tableFigure(
      COLUMNS,
      rows.map((r) => ({
        cells: [
          String(r.no),
          r.resource ? recordName(r.resource, c.settings) : r.line.type,
          (r.resource && printedRecordDate(r.resource, c.settings.timeZone)) ?? '—',
          String(r.line.version),
          pagesOf(r),
          r.line.sha256 ? r.line.sha256.slice(0, 16) : '待补充封存',
        ],
      })),
    ),
  };
}

/** `1（第3页）`, `2（第3–4页）`: how many pages a record takes here, and where. */
export function pagesText(p: RecordPages): string {
  return p.count === 1 ? `1（第${p.first}页）` : `${p.count}（第${p.first}–${p.first + p.count - 1}页）`;
}

/** Each line's full identifiers and hash, by its 序号: what the electronic copy and `seal verify` are checked against. */
function identifiersSection(rows: readonly InventoryRow[]): PdfSection {
  return {
    heading: '清单明细 Inventory lines (full SHA-256)',
    lines: rows.map((r) => {
      const ref = `${r.line.type}/${r.line.id} v${r.line.version}`;
      if (r.state.kind === 'pending') return `${r.no}. 待补充封存 pending: ${ref}`;
      const hash = `${ref} SHA-256 ${r.line.sha256 ?? ''}`;
      return r.state.kind === 'earlier' ? `${r.no}. ${hash}（已封存 第${r.state.copyNo}次 sealed by copy #${r.state.copyNo}）` : `${r.no}. ${hash}`;
    }),
  };
}

/** Room the drawn signature takes under the signature lines, in points. */
const DRAWN = { width: 180, height: 60, gap: 6 };

/** The signature block with the patient side's drawn signature under it (R-40), as they drew it on the tablet. */
function withDrawnSignature(section: PdfSection, png: Buffer | undefined): PdfSection {
  if (!png) return section;
  return {
    ...section,
    lines: [...(section.lines ?? []), '患方手写签名 Drawn by the patient side:'],
    figure: {
      draw(doc, frame) {
        if (doc.y + DRAWN.height + 2 * DRAWN.gap > doc.page.maxY()) doc.addPage();
        const y = doc.y + DRAWN.gap;
        doc.image(png, frame.left, y, { fit: [DRAWN.width, DRAWN.height] });
        doc.y = y + DRAWN.height + DRAWN.gap;
      },
    },
  };
}

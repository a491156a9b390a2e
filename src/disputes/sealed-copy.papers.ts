import { canonicalBundle, documentBundle, type ManifestEntry } from '../copies/document-bundle.js';
import { renderPdf, type PdfSection, type RenderedPdf } from '../copies/pdf-renderer.js';
import { resourceSection } from '../copies/resource-text.js';
import { withSealedInventory, type InventoryLine } from './domain/dispute-case.js';
import type { DisputeCase, InventoryItem, SealWitnesses } from './domain/dispute-records.js';

/** Everything a sealed copy states: the case, who was at the table, and the inventory as of this copy (R-40, R-41). */
export interface SealedCopyContent {
  dispute: DisputeCase;
  /** The copy's number: 1 for the seal, then one per supplement. */
  n: number;
  kind: 'seal' | 'supplement';
  /** The patient's name as printed (empty when the record has none). */
  patientName: string;
  /** The officer making the copy (a practitioner reference). */
  author: string;
  at: Date;
  /** The FHIR base the copy's entries are addressed under. */
  baseUrl: string;
  hospitalName: string;
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
}

/** A sealed copy's two files, identical for both sides (R-40): the electronic copy (canonical JSON of its Bundle) and the PDF. */
export interface SealedCopyPapers {
  bundle: { text: string; sha256: string };
  pdf: RenderedPdf;
}

/**
 * The sealed copy (R-40, R-42): a FHIR `document` Bundle of the versions it seals, stating the
 * inventory digest and the pending lines on its Composition, and the PDF printing the case, both
 * sides, the whole inventory and each sealed record, with the inventory digest on every page.
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
  const pdf = await renderPdf({
    title: `封存清单 Sealed record inventory (${c.kind === 'seal' ? '封存' : '补充封存 supplement'})`,
    reference: `Dispute ${c.dispute.id} #${c.n}`,
    stamp: `${c.hospitalName} 封存 SEALED`,
    footerHash: c.digest,
    footerHashLabel: '清单摘要 Inventory digest',
    createdAt: c.at,
    author: c.author,
    sections: [caseSection(c, bundle.sha256), inventorySection(c.earlier, c.sealed, c.pending), ...c.entries.map((e) => resourceSection(e.resource))],
  });
  return { bundle, pdf };
}

/** The case, both sides and their signature lines, and the two digests a reader must not confuse. */
function caseSection(c: SealedCopyContent, bundleSha: string): PdfSection {
  const { dispute: d, witnesses } = c;
  const scope =
    d.scope.kind === 'whole-record' ? '全部病历 whole record' : d.scope.kind === 'encounters' ? `就诊 encounters: ${d.scope.encounters.join(', ')}` : `期间 period: ${d.scope.from} – ${d.scope.to}`;
  const h = witnesses.hospital;
  const p = witnesses.patient;
  return {
    heading: '案件 Case',
    lines: [
      `案件编号 Case: ${d.id}`,
      `患者 Patient: ${c.patientName} (Patient/${d.patient})`,
      `范围 Scope: ${scope}`,
      `原因 Reason: ${d.reason}${d.trigger === 'public-incident' ? ' · 舆情事件 public-opinion incident (R-44)' : ''}`,
      `时间 Time: ${c.at.toISOString()}`,
      `医方 Hospital side: ${h.practitioner} (${h.roles.join(', ')})`,
      `患方 Patient side: ${p ? `${p.name} (${p.relationship}), ${p.idDocument.type} ****${p.idDocument.number.slice(-4)}` : (witnesses.immediate ?? '—')}`,
      `清单摘要 Inventory digest: ${c.digest}`,
      '  (SHA-256 over every line of the inventory below, sealed with its hash and pending with its version: the digest both sides confirm)',
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      "  (SHA-256 of this copy's electronic Bundle file: not the inventory digest)",
      '医方签字 Hospital signature: ____________    患方签字 Patient-side signature: ____________',
    ],
  };
}

/** Every line the inventory digest covers: sealed by earlier copies, by this copy, and pending. */
function inventorySection(earlier: readonly InventoryItem[], sealed: readonly InventoryLine[], pending: readonly InventoryLine[]): PdfSection {
  return {
    heading: `封存清单 Inventory (${sealed.length} sealed${earlier.length ? `, ${earlier.length} sealed before` : ''}, ${pending.length} pending)`,
    lines: [
      ...earlier.map((i) => `${i.line.type}/${i.line.id} v${i.line.version} SHA-256 ${i.line.sha256} (已封存 sealed by copy #${i.copyNo})`),
      ...sealed.map((l) => `${l.type}/${l.id} v${l.version} SHA-256 ${l.sha256}`),
      ...pending.map((p) => `待补充封存 pending: ${p.type}/${p.id} v${p.version}`),
    ],
  };
}

import { hospitalDay } from '../common/hospital-time.js';
import { patientBlockSection, type PatientBlock } from '../copies/patient-block.js';
import type { PdfDocumentInput, PdfSection, RenderedPdf } from '../copies/pdf-renderer.js';
import type { DisputeCase, SealedCopySummary, Unsealing } from './domain/dispute-records.js';
import {
  digestSection,
  hospitalSideText,
  patientSideText,
  practitionerOnPaper,
  printedTime,
  renderKeepingSignatures,
  scopeText,
  signatureSection,
  stampOf,
  type PaperSettings,
} from './dispute-paper-parts.js';

/** Everything an unseal record (启封记录) states (R-43). */
export interface UnsealRecordContent {
  /** The case as it was sealed (`sealedAt` set). */
  dispute: DisputeCase;
  unsealing: Unsealing;
  /** The unsealing's instant: the record's time. */
  at: Date;
  /** The patient as printed at the head of the paper: the visits in scope. */
  patient: PatientBlock;
  settings: PaperSettings;
  /** Printed names of the people the record names, by `Practitioner/id`. */
  names: ReadonlyMap<string, string>;
  /** The case's sealed copies, in order: who sealed, when, and the digest each printed. */
  copies: readonly SealedCopySummary[];
  /** The inventory as it stands at unsealing: its lines' counts and its digest. */
  inventory: { sealed: number; pending: number; digest: string };
  /** R-43: the years after sealing without a claim, and the instant they are over. */
  noClaim: { years: number; from: Date };
}

/**
 * The unseal record (启封记录, R-43): the case and the patient, how and when it was sealed (each
 * sealed copy with the digest it printed), who unsealed it when and on what basis — both sides
 * present again, by name; or the hospital alone, the dispute resolved or the years passed
 * without a claim (the date they passed printed), with who approved it — the inventory digest
 * as it stands, the signature lines and the sealing stamp; times in the hospital's zone.
 */
export function unsealRecordPdf(c: UnsealRecordContent): Promise<RenderedPdf> {
  const signers =
    c.unsealing.basis === 'both-sides'
      ? ['医方签字 Hospital side', '患方签字 Patient side']
      : ['经办人签字 Officer', '批准人签字 Approved by', '患方签字（如在场）Patient side, if present'];
  const front: PdfSection[] = [
    patientBlockSection(c.patient),
    caseSection(c),
    sealingSection(c),
    unsealingSection(c),
    digestSection('清单摘要 Inventory digest（启封时 at unsealing）', c.inventory.digest, digestLines(c)),
  ];
  const input = (signaturesOnOwnPage: boolean): PdfDocumentInput => ({
    title: '病历启封记录 Unseal record',
    reference: `纠纷案件 Dispute ${c.dispute.id} · 启封记录 unseal record`,
    stamp: stampOf(c.settings),
    stampColour: c.settings.stamp.colour,
    footerHash: c.inventory.digest,
    footerHashLabel: '清单摘要 Inventory digest',
    createdAt: c.at,
    author: practitionerOnPaper(officerOf(c.unsealing), c.names),
    sections: [...front, signatureSection(signers, signaturesOnOwnPage)],
  });
  return renderKeepingSignatures(input, front.length);
}

function caseSection(c: UnsealRecordContent): PdfSection {
  const d = c.dispute;
  return {
    heading: '案件 Case',
    lines: [
      `案件编号 Case: ${d.id}`,
      `封存范围 Scope: ${scopeText(d)}`,
      `封存原因 Reason: ${d.reason}${d.trigger === 'public-incident' ? ' · 舆情事件 public-opinion incident (R-44)' : ''}`,
    ],
  };
}

/** How the case was sealed: when, by whom, with whom, and each sealed copy with the digest printed on it. */
function sealingSection(c: UnsealRecordContent): PdfSection {
  const { settings, names } = c;
  const first = c.copies[0];
  const w = first?.witnesses;
  return {
    heading: '封存 Sealing',
    lines: [
      `封存时间 Sealed: ${c.dispute.sealedAt ? printedTime(c.dispute.sealedAt, settings.timeZone) : '—'}`,
      ...(w
        ? [
            `封存时医方 Hospital side: ${hospitalSideText(w.hospital, names, settings)}`,
            ...(w.hospital.officer && w.hospital.officer !== w.hospital.practitioner ? [`封存经办人 Officer: ${practitionerOnPaper(w.hospital.officer, names)}`] : []),
            `封存时患方 Patient side: ${w.patient ? patientSideText(w.patient) : w.immediate ? `未到场：舆情事件，医院立即封存 (R-44)` : '—'}`,
          ]
        : []),
      ...c.copies.map(
        (k) =>
          `封存清单第${k.n}份 Copy #${k.n}（${k.kind === 'seal' ? '封存' : '补充封存'}）：${printedTime(k.createdAt, settings.timeZone)}，${k.pages} 页，清单摘要 ${k.inventorySha256}`,
      ),
    ],
  };
}

/** Who unsealed, when, on what basis (R-43), and who was present or approved. */
function unsealingSection(c: UnsealRecordContent): PdfSection {
  const { unsealing: u, settings, names } = c;
  const lines = [`启封时间 Unsealed: ${printedTime(c.at, settings.timeZone)}`];
  if (u.basis === 'both-sides') {
    lines.push(
      '启封依据 Basis: 医患双方共同在场启封 both sides present again (R-43)',
      `医方在场 Hospital side: ${hospitalSideText(u.hospital, names, settings)}`,
      ...(u.hospital.officer && u.hospital.officer !== u.hospital.practitioner ? [`启封经办人 Officer: ${practitionerOnPaper(u.hospital.officer, names)}`] : []),
      `患方在场 Patient side: ${patientSideText(u.patient)}`,
      ...(u.patient.signature ? [`患方签名 SHA-256 Patient side's drawn signature: ${u.patient.signature.sha256}`] : []),
    );
  } else {
    const sealedDay = c.dispute.sealedAt ? hospitalDay(c.dispute.sealedAt.toISOString(), settings.timeZone) : undefined;
    lines.push(
      u.basis === 'resolved'
        ? '启封依据 Basis: 纠纷已解决，医院单方启封 the dispute is resolved; unsealed by the hospital alone (R-43)'
        : `启封依据 Basis: 封存满 ${c.noClaim.years} 年未提起诉讼，医院单方启封 ${c.noClaim.years} years since sealing without a claim; unsealed by the hospital alone (R-43)`,
      ...(u.basis === 'no-claim'
        ? [`封存日期 Sealed on: ${sealedDay ?? '—'}；满 ${c.noClaim.years} 年之日 ${c.noClaim.years} years passed on: ${printedTime(c.noClaim.from, settings.timeZone)}`]
        : []),
      `批准人 Approved by: ${hospitalSideText(u.approvedBy, names, settings)}${u.approvedBy.confirmedAt ? `，批准时间 ${printedTime(new Date(u.approvedBy.confirmedAt), settings.timeZone)}` : ''}`,
      `启封经办人 Officer: ${hospitalSideText(u.officer, names, settings)}`,
      '患方 Patient side: 未到场（医院依 R-43 单方启封）',
    );
  }
  if (u.basis !== 'both-sides' && u.reason) lines.push(`启封理由 Reason: ${u.reason}`);
  return { heading: '启封 Unsealing', lines };
}

function digestLines(c: UnsealRecordContent): string[] {
  const last = c.copies.at(-1);
  return [
    `启封时封存清单共 ${c.inventory.sealed + c.inventory.pending} 项：已封存 ${c.inventory.sealed} 项，待补充封存 ${c.inventory.pending} 项（启封时仍未完成，未曾封存）。`,
    last
      ? last.inventorySha256 === c.inventory.digest
        ? `下列清单摘要与封存清单第${last.n}份上的清单摘要一致：启封的正是双方确认封存的文书版本。 It equals the digest printed on sealed copy #${last.n}.`
        : `下列清单摘要与封存清单第${last.n}份上的不同：该份之后又登记了待补充封存的文书。 It differs from sealed copy #${last.n}'s: pending lines were inventoried since.`
      : '',
  ];
}

/** The officer who unsealed, as a practitioner reference. */
function officerOf(u: Unsealing): string {
  return u.basis === 'both-sides' ? (u.hospital.officer ?? u.hospital.practitioner) : u.officer.practitioner;
}

import type { Resource } from '@medplum/fhirtypes';
import { hospitalDay, hospitalTime, hospitalTimeOf, zoneLabel } from '../common/hospital-time.js';
import { maskIdNumber } from '../common/id-masking.js';
import { recordDate } from '../copies/record-date.js';
import { printable, renderPdf, type PdfDocumentInput, type PdfFigure, type PdfSection, type RenderedPdf } from '../copies/pdf-renderer.js';
import { resourceTitle } from '../copies/resource-text.js';
import type { DocumentTypes } from '../policy/domain/document-types.js';
import type { LoadedPolicy } from '../policy/loaded-policy.js';
import type { PatientWitness } from './domain/dispute-case.js';
import type { DisputeCase, SealWitnesses } from './domain/dispute-records.js';

/**
 * The parts both papers of a dispute print (the sealed inventory 封存清单 and the unseal record
 * 启封记录, R-40, R-43): times in the hospital's zone, the people at the table by name and role,
 * each record by its Chinese document name and its own date, the inventory digest set apart
 * with what it means, the signature lines and the sealing stamp. Pure: the names are read by
 * the services (`namesFor`), the settings come from the policy.
 */

/** What the policy says of a paper: the hospital, its sealing stamp, the zone, the document types' and roles' names. */
export interface PaperSettings {
  hospitalName: string;
  stamp: { sealed: string; colour: string };
  timeZone: string;
  documentTypes: DocumentTypes;
  /** A role's printed title by its name (`medical-affairs` → `医务处`). */
  roleTitles: ReadonlyMap<string, string>;
}

/** A paper's settings from the policy (`settings.hospitalName`, `stamp`, `timeZone`, the roles' titles, the document types). */
export function paperSettings(policy: LoadedPolicy): PaperSettings {
  const titles = Object.entries(policy.document.roles).flatMap(([role, r]) => (r.title ? [[role, chinesePart(r.title)] as const] : []));
  return { hospitalName: policy.hospitalName, stamp: policy.stamp, timeZone: policy.timeZone, documentTypes: policy.documentTypes, roleTitles: new Map(titles) };
}

/** A bilingual title's Chinese words (`医务处 medical affairs` → `医务处`); a title without any, whole. */
function chinesePart(title: string): string {
  const han = /^[^A-Za-z]*\p{Script=Han}[^A-Za-z]*/u.exec(title)?.[0].trim();
  return han || title;
}

/** The stamp as printed: the hospital's name, then the sealing stamp's words (policy `settings.stamp.sealed`). */
export function stampOf(settings: PaperSettings): string {
  return `${settings.hospitalName} ${settings.stamp.sealed}`;
}

/** An instant as people read it: `2026-03-01 08:29（北京时间）`. */
export function printedTime(at: Date, timeZone: string): string {
  return `${hospitalTimeOf(at, timeZone)}（${zoneLabel(timeZone)}）`;
}

/** A practitioner by name (`Practitioner/dr-wang` → `王建国`); one the store does not name, by id, said so. */
export function practitionerOnPaper(reference: string, names: ReadonlyMap<string, string>): string {
  return names.get(reference) ?? `${reference.replace(/^Practitioner\//, '')}（姓名未登记）`;
}

/** The hospital side: the person by name and their roles' titles (`张三（医务处）`). */
export function hospitalSideText(side: { practitioner: string; roles: readonly string[] }, names: ReadonlyMap<string, string>, settings: PaperSettings): string {
  const roles = side.roles.map((r) => settings.roleTitles.get(r) ?? r).join('、');
  return `${practitionerOnPaper(side.practitioner, names)}${roles ? `（${roles}）` : ''}`;
}

/** The officer who made a sealed copy, when the witnesses name one besides the hospital side's witness. */
export function officerOf(witnesses: SealWitnesses): string | undefined {
  return witnesses.hospital.officer;
}

/** Who may stand for the patient at the table (R-40), in Chinese. */
const RELATIONSHIPS: Readonly<Record<PatientWitness['relationship'], string>> = {
  self: '患者本人',
  agent: '代理人',
  spouse: '配偶',
  parent: '父母',
  child: '子女',
  sibling: '兄弟姐妹',
  heir: '继承人',
  other: '其他近亲属',
};

/** The identity documents a patient side commonly shows, in Chinese. */
const ID_DOCUMENTS: Readonly<Record<string, string>> = {
  'resident-id-card': '居民身份证',
  passport: '护照',
  'hk-macao-permit': '港澳居民来往内地通行证',
  'taiwan-permit': '台湾居民来往大陆通行证',
  'foreign-permanent-resident-id': '外国人永久居留身份证',
  'household-register': '户口簿',
};

/** The patient side as printed: name, relationship in Chinese, the identity document masked (`****1234`, as the workflow JSON masks it). */
export function patientSideText(p: PatientWitness): string {
  return `${p.name}（${RELATIONSHIPS[p.relationship] ?? p.relationship}），${ID_DOCUMENTS[p.idDocument.type] ?? p.idDocument.type} ${maskIdNumber(p.idDocument.number)}`;
}

/** What a case covers, in words. */
export function scopeText(d: Pick<DisputeCase, 'scope'>): string {
  if (d.scope.kind === 'whole-record') return '全部病历 whole record';
  if (d.scope.kind === 'encounters') return `指定就诊 ${d.scope.encounters.length} 次 encounters: ${d.scope.encounters.map((e) => `Encounter/${e}`).join(', ')}`;
  return `期间 period: ${d.scope.from} 至 ${d.scope.to}`;
}

/** A record type's Chinese name, when no document type names the record. */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  Encounter: '就诊记录',
  Composition: '病历文书',
  DocumentReference: '病历文档',
  Observation: '检验检查结果',
  DiagnosticReport: '检查检验报告',
  ImagingStudy: '影像检查',
  Specimen: '标本',
  MedicationRequest: '药品医嘱',
  ServiceRequest: '检查治疗医嘱',
  NutritionOrder: '膳食医嘱',
  MedicationAdministration: '给药记录',
  MedicationDispense: '发药记录',
  MedicationStatement: '用药记录',
  Procedure: '操作记录',
  Condition: '诊断',
  AllergyIntolerance: '过敏史',
  FamilyMemberHistory: '家族史',
  Immunization: '预防接种记录',
  Consent: '知情同意书',
  CarePlan: '诊疗计划',
  CareTeam: '诊疗小组',
  EpisodeOfCare: '诊疗经过',
  ClinicalImpression: '临床评估',
  RiskAssessment: '风险评估',
  QuestionnaireResponse: '评估量表',
  ChargeItem: '费用条目',
  Invoice: '费用清单',
  Communication: '沟通记录',
  Media: '影像资料',
  Provenance: '电子签名记录',
};

/**
 * A record by its Chinese name, as a reader looks for it on paper: its document type's name
 * (the shipped CodeSystem's designation, or the hospital's map, policy), else its type's, with
 * its own title or item when that says more (`检验检查结果（血红蛋白）`).
 */
export function recordName(resource: Resource, settings: PaperSettings): string {
  const name = settings.documentTypes.classify(resource)?.zh ?? TYPE_NAMES[resource.resourceType] ?? resource.resourceType;
  const own = resource.resourceType === 'Encounter' ? encounterClass(resource) : resourceTitle(resource);
  return own && !name.includes(own) && !/^https?:\/\//.test(own) ? `${name}（${own}）` : name;
}

const ENCOUNTER_CLASSES: Readonly<Record<string, string>> = { IMP: '住院', AMB: '门诊', EMER: '急诊', ACUTE: '住院', NONAC: '住院', OBSENC: '留观', HH: '家庭病床', VR: '远程' };

function encounterClass(resource: Resource): string | undefined {
  const code = (resource as { class?: { code?: string } }).class?.code;
  return code ? ENCOUNTER_CLASSES[code] : undefined;
}

/**
 * The record's own date as people read it, in the hospital's zone: when it was written,
 * observed, ordered or signed (`2026-03-01 08:29`; a date without a time as sent), as
 * `recordDate` finds it; a visit by its days (`2026-03-01 至 2026-03-05`); a signature
 * (Provenance) by when it was recorded. Undefined when the record gives none.
 */
export function printedRecordDate(resource: Resource, timeZone: string): string | undefined {
  if (resource.resourceType === 'Encounter') {
    const period = (resource as { period?: { start?: string; end?: string } }).period;
    const start = hospitalDay(period?.start, timeZone) ?? period?.start;
    const end = hospitalDay(period?.end, timeZone) ?? period?.end;
    return start && end && end !== start ? `${start} 至 ${end}` : (start ?? end);
  }
  return hospitalTime(recordDate(resource), timeZone);
}

/** The inventory digest set apart under `heading`, in a ruled box, large enough to read digit by digit; `explained`: what it is and how to check it. */
export function digestSection(heading: string, digest: string, explained: readonly string[]): PdfSection {
  return { heading, lines: [...explained], figure: digestBox(digest) };
}

const BOX = { size: 11, pad: 6, rule: '#333333' };

function digestBox(digest: string): PdfFigure {
  return {
    draw(doc, frame) {
      doc.font('bold').fontSize(BOX.size);
      const text = printable(`SHA-256 ${digest}`);
      const h = doc.heightOfString(text, { width: frame.width - 2 * BOX.pad }) + 2 * BOX.pad;
      if (doc.y + h > doc.page.maxY()) doc.addPage();
      const y = doc.y;
      doc.lineWidth(1).strokeColor(BOX.rule).rect(frame.left, y, frame.width, h).stroke();
      doc.fillColor('black').text(text, frame.left + BOX.pad, y + BOX.pad, { width: frame.width - 2 * BOX.pad });
      doc.x = frame.left;
      doc.y = y + h;
    },
  };
}

/**
 * Signature lines, one per person who signs (`医方签字 Hospital side`), each with its date;
 * `ownPage`: the block starts a page, so that it is never split from its heading or itself
 * (`renderKeepingSignatures` sets it when it would be).
 */
export function signatureSection(signers: readonly string[], ownPage = false): PdfSection {
  return { heading: '签字 Signatures', lines: signers.flatMap((s) => [`${s}：________________    日期 Date：________________`, '']), ...(ownPage ? { newPage: true } : {}) };
}

/**
 * Renders a paper whose signature block is section `signatures` of what `build` gives: again
 * with the block on a page of its own when it would be split across two.
 */
export async function renderKeepingSignatures(build: (signaturesOnOwnPage: boolean) => PdfDocumentInput, signatures: number): Promise<RenderedPdf> {
  const pdf = await renderPdf(build(false));
  return (pdf.sectionPages[signatures]?.count ?? 1) > 1 ? renderPdf(build(true)) : pdf;
}

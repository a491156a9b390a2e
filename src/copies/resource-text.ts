import type {
  Attachment,
  CodeableConcept,
  Coding,
  CompositionSection,
  ExtractResource,
  Period,
  Quantity,
  Range,
  Ratio,
  Reference,
  Resource,
  ResourceType,
  SampledData,
} from '@medplum/fhirtypes';
import { humanName, nameOf, paperTime, type Paper } from './paper.js';
import type { PdfSection } from './pdf-renderer.js';
import { writtenNumber } from './written-number.js';
import { xhtmlText } from './xhtml-text.js';

/**
 * The printed form of one resource in a certified copy (R-31): a heading naming the exact
 * version copied (`Composition/c1 v3 · 入院记录`) and the lines a reader needs, in the order a
 * clinician reads them: times in the hospital's zone and the people it names by name
 * (`paper`). Each type a copy commonly holds has a layout below; any other type prints its
 * narrative (`text.div`) or, without one, its JSON: a copy may be plain, never incomplete.
 */
export function resourceSection(resource: Resource, paper: Paper): PdfSection {
  // One layout per type: the map's type ties each layout to its own resource type.
  const layout = LAYOUTS[resource.resourceType] as Layout<Resource> | undefined;
  const version = resource.meta?.versionId ? ` v${resource.meta.versionId}` : '';
  const title = resourceTitle(resource);
  const heading = `${resource.resourceType}/${resource.id ?? '-'}${version}${title ? ` · ${title}` : ''}`;
  const lines = layout ? fieldLines(resource, layout, paper) : fallbackLines(resource);
  if (resource.meta?.lastUpdated) lines.push(`更新时间 lastUpdated: ${paperTime(resource.meta.lastUpdated, paper)}`);
  return { heading, lines };
}

/** The human title of a record, as its heading shows it beside the id (a document's title, a result's name); undefined for a type without one. */
export function resourceTitle(resource: Resource): string | undefined {
  return (LAYOUTS[resource.resourceType] as Layout<Resource> | undefined)?.title?.(resource);
}

/** A labelled line: the label, and the value it shows (absent values print no line). */
type Field<T> = readonly [label: string, value: (resource: T, paper: Paper) => string | undefined];

interface Layout<T> {
  /** The human title shown in the heading beside the id. */
  title?: (resource: T) => string | undefined;
  fields: readonly Field<T>[];
  /** Lines after the fields: narrative sections, attachments, components, notes. */
  more?: (resource: T, paper: Paper) => string[];
}

type Layouts = { [K in ResourceType]?: Layout<ExtractResource<K>> };

const STATUS: Field<{ status?: string }> = ['状态 status', (r) => r.status];

const LAYOUTS: Layouts = {
  Composition: {
    title: (r) => r.title,
    fields: [
      ['类型 type', (r) => concept(r.type)],
      ['标题 title', (r) => r.title],
      ['日期 date', (r, p) => paperTime(r.date, p)],
      STATUS,
      ['作者 author', (r, p) => people(r.author, p, r)],
      ['患者 subject', (r, p) => nameOf(r.subject, p, r)],
      ['签署 attester', (r, p) => list(r.attester?.map((a) => [ATTESTATION[a.mode] ?? a.mode, nameOf(a.party, p, r), paperTime(a.time, p)].filter(Boolean).join(' ')))],
    ],
    more: (r) => sectionLines(r.section),
  },
  DocumentReference: {
    title: (r) => r.description ?? concept(r.type),
    fields: [
      ['类型 type', (r) => concept(r.type)],
      ['描述 description', (r) => r.description],
      ['日期 date', (r, p) => paperTime(r.date, p)],
      STATUS,
      ['文档状态 docStatus', (r) => r.docStatus],
      ['作者 author', (r, p) => people(r.author, p, r)],
      ['审核签名 authenticator', (r, p) => nameOf(r.authenticator, p, r)],
    ],
    more: (r) => (r.content ?? []).flatMap((c) => attachmentLines(c.attachment)),
  },
  Observation: {
    title: (r) => concept(r.code),
    fields: [
      ['项目 code', (r) => concept(r.code)],
      ['结果 value', (r, p) => choice(r, 'value', p, rootOf(r)) ?? concept(r.dataAbsentReason)],
      ['参考范围 referenceRange', (r) => list(r.referenceRange?.map((rr, i) => rr.text ?? range(rr, rootOf(r, `/referenceRange/${i}`))))],
      ['判读 interpretation', (r) => concepts(r.interpretation)],
      ['时间 effective', (r, p) => choice(r, 'effective', p, rootOf(r))],
      ['执行者 performer', (r, p) => people(r.performer, p, r)],
      STATUS,
    ],
    more: (r, p) => [
      ...(r.component ?? []).map((c, i) => `  ${concept(c.code) ?? ''}: ${choice(c, 'value', p, rootOf(r, `/component/${i}`)) ?? concept(c.dataAbsentReason) ?? ''}`),
      ...notes(r.note, p),
    ],
  },
  DiagnosticReport: {
    title: (r) => concept(r.code),
    fields: [
      ['项目 code', (r) => concept(r.code)],
      ['时间 effective', (r, p) => choice(r, 'effective', p, rootOf(r))],
      ['报告时间 issued', (r, p) => paperTime(r.issued, p)],
      STATUS,
      ['检验/检查者 performer', (r, p) => people(r.performer, p, r)],
      ['审核者 resultsInterpreter', (r, p) => people(r.resultsInterpreter, p, r)],
      ['结论 conclusion', (r) => r.conclusion],
      ['结论编码 conclusionCode', (r) => concepts(r.conclusionCode)],
      ['结果 result', (r) => references(r.result)],
    ],
    more: (r) => (r.presentedForm ?? []).flatMap(attachmentLines),
  },
  Encounter: {
    title: (r) => concepts(r.type),
    fields: [
      ['类别 class', (r) => coding(r.class)],
      ['类型 type', (r) => concepts(r.type)],
      ['时间 period', (r, p) => period(r.period, p)],
      STATUS,
      ['原因 reason', (r) => concepts(r.reasonCode)],
      ['科室 serviceProvider', (r, p) => nameOf(r.serviceProvider, p, r)],
    ],
  },
  Patient: {
    title: (r) => humanName(r.name?.[0]),
    fields: [
      ['姓名 name', (r) => humanName(r.name?.[0])],
      ['性别 gender', (r) => r.gender],
      ['出生日期 birthDate', (r) => r.birthDate],
    ],
  },
  Procedure: {
    title: (r) => concept(r.code),
    fields: [
      ['项目 code', (r) => concept(r.code)],
      ['时间 performed', (r, p) => choice(r, 'performed', p, rootOf(r))],
      STATUS,
      ['执行者 performer', (r, p) => list(r.performer?.map((x) => nameOf(x.actor, p, r)))],
      ['结果 outcome', (r) => concept(r.outcome)],
    ],
    more: (r, p) => notes(r.note, p),
  },
  Condition: {
    title: (r) => concept(r.code),
    fields: [
      ['诊断 code', (r) => concept(r.code)],
      ['临床状态 clinicalStatus', (r) => concept(r.clinicalStatus)],
      ['确认状态 verificationStatus', (r) => concept(r.verificationStatus)],
      ['分类 category', (r) => concepts(r.category)],
      ['发病 onset', (r, p) => choice(r, 'onset', p, rootOf(r))],
      ['记录日期 recordedDate', (r, p) => paperTime(r.recordedDate, p)],
      ['记录者 recorder', (r, p) => nameOf(r.recorder, p, r)],
    ],
    more: (r, p) => notes(r.note, p),
  },
  MedicationRequest: {
    title: (r) => concept(r.medicationCodeableConcept) ?? reference(r.medicationReference),
    fields: [
      ['药品 medication', (r) => concept(r.medicationCodeableConcept) ?? reference(r.medicationReference)],
      STATUS,
      ['意图 intent', (r) => r.intent],
      ['开立时间 authoredOn', (r, p) => paperTime(r.authoredOn, p)],
      ['开立者 requester', (r, p) => nameOf(r.requester, p, r)],
    ],
    more: (r, p) => [...(r.dosageInstruction ?? []).flatMap((d) => (d.text ? [`用法 dosage: ${d.text}`] : [])), ...notes(r.note, p)],
  },
  AllergyIntolerance: {
    title: (r) => concept(r.code),
    fields: [
      ['过敏原 code', (r) => concept(r.code)],
      ['临床状态 clinicalStatus', (r) => concept(r.clinicalStatus)],
      ['确认状态 verificationStatus', (r) => concept(r.verificationStatus)],
      ['严重程度 criticality', (r) => r.criticality],
      ['记录日期 recordedDate', (r, p) => paperTime(r.recordedDate, p)],
      ['记录者 recorder', (r, p) => nameOf(r.recorder, p, r)],
    ],
    more: (r, p) => [
      ...(r.reaction ?? []).map((x) => `反应 reaction: ${[concepts(x.manifestation), x.severity].filter(Boolean).join(' · ')}`),
      ...notes(r.note, p),
    ],
  },
};

/** How a Composition's attester attested (FHIR composition-attestation-mode), as a hospital words it. */
const ATTESTATION: Readonly<Record<string, string>> = { personal: '本人签名', professional: '执业签名', legal: '法定签名', official: '机构签章' };

function fieldLines<T extends Resource>(resource: T, layout: Layout<T>, paper: Paper): string[] {
  const lines: string[] = [];
  for (const [label, value] of layout.fields) {
    const text = value(resource, paper);
    if (text !== undefined && text !== '') lines.push(`${label}: ${text}`);
  }
  return [...lines, ...(layout.more?.(resource, paper) ?? [])];
}

/** Longest line of the JSON fallback, in characters: short enough to read, and to wrap even where a renderer would not break. */
const JSON_LINE = 96;

/** A type without a layout: its narrative, or its JSON (without `meta`, which the heading shows) cut into lines. */
function fallbackLines(resource: Resource): string[] {
  const div = (resource as { text?: { div?: string } }).text?.div;
  if (div) return xhtmlText(div);
  const { meta: _meta, ...rest } = resource;
  const chars = Array.from(JSON.stringify(rest));
  const lines: string[] = [];
  for (let i = 0; i < chars.length; i += JSON_LINE) lines.push(chars.slice(i, i + JSON_LINE).join(''));
  return lines;
}

/** Composition sections, nested ones after their parent: `【title】`, then the narrative's lines. */
function sectionLines(sections: readonly CompositionSection[] | undefined): string[] {
  return (sections ?? []).flatMap((s) => [
    ...(s.title ? [`【${s.title}】`] : []),
    ...(s.text?.div ? xhtmlText(s.text.div) : []),
    ...(s.entry?.length ? [`条目 entry: ${references(s.entry)}`] : []),
    ...sectionLines(s.section),
  ]);
}

/**
 * An attachment as printed lines. Text (`text/*`) carried inline is decoded and printed in
 * full, in the charset it declares (GBK and GB18030 are common in Chinese HIS exports; an
 * unknown label falls back to UTF-8); HTML is reduced to its text. Anything else — a scan, a
 * PDF, a link — is listed: title, type, size, URL, hash, so the copy says what it does not show.
 */
function attachmentLines(attachment: Attachment): string[] {
  const type = attachment.contentType ?? '';
  const label = `附件 attachment: ${[attachment.title, type].filter(Boolean).join(' · ')}`;
  if (attachment.data && /^text\//i.test(type)) {
    const text = decodeText(Buffer.from(attachment.data, 'base64'), /charset\s*=\s*"?([^;"\s]+)/i.exec(type)?.[1]);
    const lines = /^text\/html/i.test(type) ? xhtmlText(text) : text.split(/\r\n?|\n/);
    return [label, ...lines];
  }
  const size = attachment.size !== undefined ? `${attachment.size} 字节 bytes` : attachment.data ? `${Buffer.from(attachment.data, 'base64').length} 字节 bytes` : undefined;
  return [[label, size, attachment.url, attachment.hash && `SHA-1 ${attachment.hash}`].filter(Boolean).join(' · ')];
}

function decodeText(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** A CodeableConcept as a reader knows it: its text, else a coding's display, else `system|code`. */
export function concept(cc: CodeableConcept | undefined): string | undefined {
  if (!cc) return undefined;
  return cc.text ?? cc.coding?.find((c) => c.display)?.display ?? coding(cc.coding?.find((c) => c.code));
}

function concepts(ccs: readonly CodeableConcept[] | undefined): string | undefined {
  return list(ccs?.map(concept));
}

function coding(c: Coding | undefined): string | undefined {
  if (!c) return undefined;
  return c.display ?? (c.code ? (c.system ? `${c.system}|${c.code}` : c.code) : undefined);
}

function reference(r: Reference | undefined): string | undefined {
  return r?.display ?? r?.reference;
}

/** The people (or departments) references name, by name where the paper knows it (or `container` holds them). */
function people(rs: readonly Reference[] | undefined, paper: Paper, container?: Resource): string | undefined {
  return list(rs?.map((r) => nameOf(r, paper, container)));
}

function references(rs: readonly Reference[] | undefined): string | undefined {
  return list(rs?.map(reference));
}

function list(values: readonly (string | undefined)[] | undefined): string | undefined {
  const present = (values ?? []).filter((v): v is string => !!v);
  return present.length ? present.join('; ') : undefined;
}

/** A quantity with its unit (the human unit, else the UCUM code): `<5.6 mmol/L`; `value`: the number as written (`writtenNumber`), when known. */
export function quantity(q: Quantity | undefined, value?: string): string | undefined {
  if (q?.value === undefined) return undefined;
  return `${q.comparator ?? ''}${value ?? q.value}${q.unit ?? q.code ? ` ${q.unit ?? q.code}` : ''}`;
}

/** Where a value is in its record (an RFC 6901 pointer), and how the record wrote its numbers there. */
interface At {
  pointer: string;
  written: (pointer: string, value: number | undefined) => string | undefined;
}

/** The place `pointer` in `record`, whose numbers print as the sender wrote them (docs/decisions/0014: `1.50` stays `1.50`). */
function rootOf(record: Resource, pointer = ''): At {
  return { pointer, written: (at, value) => writtenNumber(record, at, value) };
}

function inside(at: At, key: string): At {
  return { ...at, pointer: `${at.pointer}/${key}` };
}

/** A quantity at `at`, its number as written. */
function writtenQuantity(q: Quantity | undefined, at: At): string | undefined {
  return quantity(q, at.written(`${at.pointer}/value`, q?.value));
}

function range(r: Range | undefined, at: At): string | undefined {
  if (!r?.low && !r?.high) return undefined;
  return `${writtenQuantity(r.low, inside(at, 'low')) ?? ''} – ${writtenQuantity(r.high, inside(at, 'high')) ?? ''}`.trim();
}

function period(p: Period | undefined, paper: Paper): string | undefined {
  if (!p?.start && !p?.end) return undefined;
  return `${paperTime(p.start, paper) ?? ''} – ${paperTime(p.end, paper) ?? ''}`.trim();
}

function notes(annotations: readonly { text: string; time?: string }[] | undefined, paper: Paper): string[] {
  return (annotations ?? []).map((a) => `备注 note: ${a.time ? `${paperTime(a.time, paper)} ` : ''}${a.text}`);
}

/** How each FHIR data type a choice element (`value[x]`, `effective[x]`, `onset[x]`…) can take is printed, by its type suffix; times in the paper's zone. */
const CHOICE_TYPES: Readonly<Record<string, (value: unknown, paper: Paper, at: At) => string | undefined>> = {
  Quantity: (v, _paper, at) => writtenQuantity(v as Quantity, at),
  Age: (v, _paper, at) => writtenQuantity(v as Quantity, at),
  Duration: (v, _paper, at) => writtenQuantity(v as Quantity, at),
  CodeableConcept: (v) => concept(v as CodeableConcept),
  Coding: (v) => coding(v as Coding),
  Range: (v, _paper, at) => range(v as Range, at),
  Ratio: (v, _paper, at) => {
    const r = v as Ratio;
    return `${writtenQuantity(r.numerator, inside(at, 'numerator')) ?? ''} / ${writtenQuantity(r.denominator, inside(at, 'denominator')) ?? ''}`;
  },
  Period: (v, paper) => period(v as Period, paper),
  SampledData: (v) => `sampled data (${(v as SampledData).dimensions} dimensions)`,
  Reference: (v, paper) => nameOf(v as Reference, paper),
  String: String,
  Boolean: String,
  Integer: String,
  Decimal: (v, _paper, at) => at.written(at.pointer, v as number),
  DateTime: (v, paper) => paperTime(String(v), paper),
  Date: String,
  Time: String,
  Instant: (v, paper) => paperTime(String(v), paper),
};

/** The printed value of a choice element: the first `<prefix><Type>` key the element (at `at` in its record) carries. */
function choice(element: object, prefix: string, paper: Paper, at: At): string | undefined {
  for (const [key, value] of Object.entries(element)) {
    const format = key.startsWith(prefix) ? CHOICE_TYPES[key.slice(prefix.length)] : undefined;
    if (format && value !== undefined && value !== null) return format(value, paper, inside(at, key));
  }
  return undefined;
}

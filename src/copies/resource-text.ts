import type {
  Attachment,
  CodeableConcept,
  Coding,
  CompositionSection,
  ExtractResource,
  HumanName,
  Period,
  Quantity,
  Range,
  Ratio,
  Reference,
  Resource,
  ResourceType,
  SampledData,
} from '@medplum/fhirtypes';
import type { PdfSection } from './pdf-renderer.js';

/**
 * The printed form of one resource in a certified copy (R-31): a heading naming the exact
 * version copied (`Composition/c1 v3 · 入院记录`) and the lines a reader needs, in the order a
 * clinician reads them. Each type a copy commonly holds has a layout below; any other type
 * prints its narrative (`text.div`) or, without one, its JSON: a copy may be plain, never
 * incomplete.
 */
export function resourceSection(resource: Resource): PdfSection {
  // One layout per type: the map's type ties each layout to its own resource type.
  const layout = LAYOUTS[resource.resourceType] as Layout<Resource> | undefined;
  const version = resource.meta?.versionId ? ` v${resource.meta.versionId}` : '';
  const title = layout?.title?.(resource);
  const heading = `${resource.resourceType}/${resource.id ?? '-'}${version}${title ? ` · ${title}` : ''}`;
  const lines = layout ? fieldLines(resource, layout) : fallbackLines(resource);
  if (resource.meta?.lastUpdated) lines.push(`更新时间 lastUpdated: ${resource.meta.lastUpdated}`);
  return { heading, lines };
}

/** A labelled line: the label, and the value it shows (absent values print no line). */
type Field<T> = readonly [label: string, value: (resource: T) => string | undefined];

interface Layout<T> {
  /** The human title shown in the heading beside the id. */
  title?: (resource: T) => string | undefined;
  fields: readonly Field<T>[];
  /** Lines after the fields: narrative sections, attachments, components, notes. */
  more?: (resource: T) => string[];
}

type Layouts = { [K in ResourceType]?: Layout<ExtractResource<K>> };

const STATUS: Field<{ status?: string }> = ['状态 status', (r) => r.status];

const LAYOUTS: Layouts = {
  Composition: {
    title: (r) => r.title,
    fields: [
      ['类型 type', (r) => concept(r.type)],
      ['标题 title', (r) => r.title],
      ['日期 date', (r) => r.date],
      STATUS,
      ['作者 author', (r) => references(r.author)],
      ['患者 subject', (r) => reference(r.subject)],
      ['签署 attester', (r) => list(r.attester?.map((a) => [a.mode, reference(a.party), a.time].filter(Boolean).join(' ')))],
    ],
    more: (r) => sectionLines(r.section),
  },
  DocumentReference: {
    title: (r) => r.description ?? concept(r.type),
    fields: [
      ['类型 type', (r) => concept(r.type)],
      ['描述 description', (r) => r.description],
      ['日期 date', (r) => r.date],
      STATUS,
      ['文档状态 docStatus', (r) => r.docStatus],
      ['作者 author', (r) => references(r.author)],
    ],
    more: (r) => (r.content ?? []).flatMap((c) => attachmentLines(c.attachment)),
  },
  Observation: {
    title: (r) => concept(r.code),
    fields: [
      ['项目 code', (r) => concept(r.code)],
      ['结果 value', (r) => choice(r, 'value') ?? concept(r.dataAbsentReason)],
      ['参考范围 referenceRange', (r) => list(r.referenceRange?.map((rr) => rr.text ?? range(rr)))],
      ['判读 interpretation', (r) => concepts(r.interpretation)],
      ['时间 effective', (r) => choice(r, 'effective')],
      STATUS,
    ],
    more: (r) => [
      ...(r.component ?? []).map((c) => `  ${concept(c.code) ?? ''}: ${choice(c, 'value') ?? concept(c.dataAbsentReason) ?? ''}`),
      ...notes(r.note),
    ],
  },
  DiagnosticReport: {
    title: (r) => concept(r.code),
    fields: [
      ['项目 code', (r) => concept(r.code)],
      ['时间 effective', (r) => choice(r, 'effective')],
      STATUS,
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
      ['时间 period', (r) => period(r.period)],
      STATUS,
      ['原因 reason', (r) => concepts(r.reasonCode)],
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
      ['时间 performed', (r) => choice(r, 'performed')],
      STATUS,
      ['执行者 performer', (r) => list(r.performer?.map((p) => reference(p.actor)))],
      ['结果 outcome', (r) => concept(r.outcome)],
    ],
    more: (r) => notes(r.note),
  },
  Condition: {
    title: (r) => concept(r.code),
    fields: [
      ['诊断 code', (r) => concept(r.code)],
      ['临床状态 clinicalStatus', (r) => concept(r.clinicalStatus)],
      ['确认状态 verificationStatus', (r) => concept(r.verificationStatus)],
      ['分类 category', (r) => concepts(r.category)],
      ['发病 onset', (r) => choice(r, 'onset')],
      ['记录日期 recordedDate', (r) => r.recordedDate],
    ],
    more: (r) => notes(r.note),
  },
  MedicationRequest: {
    title: (r) => concept(r.medicationCodeableConcept) ?? reference(r.medicationReference),
    fields: [
      ['药品 medication', (r) => concept(r.medicationCodeableConcept) ?? reference(r.medicationReference)],
      STATUS,
      ['意图 intent', (r) => r.intent],
      ['开立时间 authoredOn', (r) => r.authoredOn],
      ['开立者 requester', (r) => reference(r.requester)],
    ],
    more: (r) => [...(r.dosageInstruction ?? []).flatMap((d) => (d.text ? [`用法 dosage: ${d.text}`] : [])), ...notes(r.note)],
  },
  AllergyIntolerance: {
    title: (r) => concept(r.code),
    fields: [
      ['过敏原 code', (r) => concept(r.code)],
      ['临床状态 clinicalStatus', (r) => concept(r.clinicalStatus)],
      ['确认状态 verificationStatus', (r) => concept(r.verificationStatus)],
      ['严重程度 criticality', (r) => r.criticality],
      ['记录日期 recordedDate', (r) => r.recordedDate],
    ],
    more: (r) => [
      ...(r.reaction ?? []).map((x) => `反应 reaction: ${[concepts(x.manifestation), x.severity].filter(Boolean).join(' · ')}`),
      ...notes(r.note),
    ],
  },
};

function fieldLines<T extends Resource>(resource: T, layout: Layout<T>): string[] {
  const lines: string[] = [];
  for (const [label, value] of layout.fields) {
    const text = value(resource);
    if (text !== undefined && text !== '') lines.push(`${label}: ${text}`);
  }
  return [...lines, ...(layout.more?.(resource) ?? [])];
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

/** Elements that start and end a line of their own. */
const BLOCK = /^(p|div|li|tr|table|thead|tbody|tfoot|ul|ol|dl|dt|dd|h[1-6]|blockquote|pre|hr|caption)$/i;

/**
 * The readable text of an XHTML narrative (FHIR `Narrative.div`), one array entry per line:
 * tags are removed; `<br>` and block elements (`<p>`, `<div>`, `<li>`, `<tr>`, headings…)
 * break lines, list items start with `- `, table cells are separated by ` | `; whitespace of
 * the source is collapsed as a browser would; entities are decoded after the tags are gone,
 * so an escaped `&lt;b&gt;` stays text.
 */
export function xhtmlText(div: string): string[] {
  const marked = div
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\s+/g, ' ')
    .replace(/<(\/?)([a-z][a-z0-9]*)\b[^>]*>/gi, (_tag, close: string, name: string) => {
      const n = name.toLowerCase();
      if (n === 'br') return '\n';
      if (n === 'li' && !close) return '\n- ';
      if ((n === 'td' || n === 'th') && close) return '\t';
      return BLOCK.test(n) ? '\n' : '';
    })
    .replace(/<[^>]*>/g, '');
  return decodeEntities(marked)
    .split('\n')
    .map((line) =>
      line
        .split('\t')
        .map((cell) => cell.replace(/[ \u00a0]+/g, ' ').trim())
        .filter((cell) => cell !== '')
        .join(' | '),
    )
    .filter((line) => line !== '' && line !== '-');
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  middot: '·',
  times: '×',
  divide: '÷',
  deg: '°',
  plusmn: '±',
  micro: 'µ',
  le: '≤',
  ge: '≥',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  copy: '©',
  reg: '®',
};

/** Named (the common ones), decimal and hexadecimal entities, in one pass: `&amp;lt;` is `&lt;`, not `<`. Unknown ones stay as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z][a-zA-Z0-9]*);/g, (entity, body: string) => {
    if (body.startsWith('#')) {
      const code = /^#x/i.test(body) ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return ENTITIES[body] ?? entity;
  });
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

function range(r: Range | undefined): string | undefined {
  if (!r?.low && !r?.high) return undefined;
  return `${quantity(r.low) ?? ''} – ${quantity(r.high) ?? ''}`.trim();
}

function period(p: Period | undefined): string | undefined {
  if (!p?.start && !p?.end) return undefined;
  return `${p.start ?? ''} – ${p.end ?? ''}`.trim();
}

export function humanName(n: HumanName | undefined): string | undefined {
  if (!n) return undefined;
  if (n.text) return n.text;
  const given = (n.given ?? []).join(' ');
  // Chinese names are written family name first, without a space (王 + 小明 = 王小明).
  const han = /\p{Script=Han}/u.test(`${n.family ?? ''}${given}`);
  return (han ? `${n.family ?? ''}${(n.given ?? []).join('')}` : `${given} ${n.family ?? ''}`).trim() || undefined;
}

function notes(annotations: readonly { text: string; time?: string }[] | undefined): string[] {
  return (annotations ?? []).map((a) => `备注 note: ${a.time ? `${a.time} ` : ''}${a.text}`);
}

/** How each FHIR data type a choice element (`value[x]`, `effective[x]`, `onset[x]`…) can take is printed, by its type suffix. */
const CHOICE_TYPES: Readonly<Record<string, (value: unknown) => string | undefined>> = {
  Quantity: (v) => quantity(v as Quantity),
  Age: (v) => quantity(v as Quantity),
  Duration: (v) => quantity(v as Quantity),
  CodeableConcept: (v) => concept(v as CodeableConcept),
  Coding: (v) => coding(v as Coding),
  Range: (v) => range(v as Range),
  Ratio: (v) => {
    const r = v as Ratio;
    return `${quantity(r.numerator) ?? ''} / ${quantity(r.denominator) ?? ''}`;
  },
  Period: (v) => period(v as Period),
  SampledData: (v) => `sampled data (${(v as SampledData).dimensions} dimensions)`,
  Reference: (v) => reference(v as Reference),
  String: String,
  Boolean: String,
  Integer: String,
  Decimal: String,
  DateTime: String,
  Date: String,
  Time: String,
  Instant: String,
};

/** The printed value of a choice element: the first `<prefix><Type>` key the element carries. */
function choice(element: object, prefix: string): string | undefined {
  for (const [key, value] of Object.entries(element)) {
    const format = key.startsWith(prefix) ? CHOICE_TYPES[key.slice(prefix.length)] : undefined;
    if (format && value !== undefined && value !== null) return format(value);
  }
  return undefined;
}

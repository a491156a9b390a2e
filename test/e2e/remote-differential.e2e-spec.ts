import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type {
  Bundle,
  BundleEntry,
  CareTeam,
  Composition,
  Condition,
  DocumentReference,
  Encounter,
  Observation,
  OperationOutcome,
  Patient,
  Practitioner,
  Resource,
} from '@medplum/fhirtypes';
import { sql, urlOf } from '../support/database-admin.js';
import { startFhirPeer, type FhirPeer } from '../support/fhir-peer.js';
import { inpatientStay, putDepartments } from '../support/fhir-builders.js';
import { fhirApi, httpRequest, jsonApi, type HttpResult } from '../support/http.js';
import { closeAll, startTestServer, type DevTokenRequest, type TestServer } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The differential test of issue #17 (decision 0017): the same hospital, loaded through
 * ChartWarden's API into the embedded store and into the remote store (in front of Medplum's
 * FHIR router over HTTP, `test/support/fhir-peer.ts`), must give every role the same decisions
 * and the same records for the same requests: reads, vreads, histories, searches (paged to the
 * end, sorted, with `_include`, `_revinclude`, `_total`), `$everything`, and writes (create,
 * conditional create, update with If-Match, a transaction, refusals of a sealed record).
 *
 * The hospital: departments cardio, neuro and emergency; patients p1…p6 with their encounters
 * (p4 discharged 60 days ago, outside the care window; p5 discharged yesterday and sealed in a
 * dispute case), a CareTeam putting a cardio resident on neuro patient p3, observations with
 * HIS-chosen ids (one labelled R, restricted), conditions, compositions, and two
 * DocumentReferences (one labelled V, very restricted); a grant of p2 to the neuro attending
 * (R-05) and a break-the-glass of p1 by the emergency attending (R-04).
 *
 * Each server has its own database (searches without a patient see every row of a database) and
 * the remote one its own peer. Clients see ChartWarden's version numbers in both modes, so
 * versions, ETags and contents are compared as they are; only the instants each server's clock
 * writes (`meta.lastUpdated`, a signature's time, a ledger entry's), the servers' base URLs,
 * Bundle ids and paging-link URLs (signed tokens) differ by construction, and OperationOutcomes
 * are compared by their issue codes. Records a client creates by POST get a random id on each
 * server: they are compared under an alias (the nth record created in the corpus), and searches
 * that can reach them are sorted by something both servers share (dates, `_lastUpdated`), never
 * by the random id. A 5xx is a failure even when both servers answer it.
 *
 * Last, one record is moved to another patient: through ChartWarden on the embedded server, on
 * the peer directly (past ChartWarden) on the remote one. Every role must then get the same
 * answers again (decision 0017, E: freshness before judgement), and only the remote store alarms.
 */

const RUN = `${Date.now()}_${randomBytes(3).toString('hex')}`;
const SYS = 'urn:chartwarden-e2e:remote-differential';
const CODE = `${SYS}:code`;
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const DAY = 86_400_000;
/** One "now" for both servers: every date of the seed and the corpus is the same string on both. */
const NOW = Date.now();
/** Every instant the seed and the corpus write into records: instants of this shape that are not among them are the servers' own. */
const CHOSEN_INSTANTS = new Set<string>();
const daysAgo = (days: number, hours = 0) => {
  const instant = new Date(NOW - days * DAY + hours * 3_600_000).toISOString();
  CHOSEN_INSTANTS.add(instant);
  return instant;
};
/** An instant as a server's clock prints it (`Date.toISOString`): when it wrote a version, signed a document, recorded a ledger entry. */
const SERVER_INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g;

// ---------------------------------------------------------------- the actors (every role the default policy defines)

/** Who asks: a role of `policy/default.policy.yaml`, with the department and practitioner the seed relates them to. */
interface Actor {
  key: string;
  title: string;
  claims: Partial<DevTokenRequest>;
}

const practitioner = (id: string) => `Practitioner/${id}`;
const ACTORS: Actor[] = [
  { key: 'his', title: 'his-system', claims: { sub: 'his-diff', roles: ['his-system'] } },
  { key: 'attending', title: 'attending treating p1 (cardio)', claims: { sub: 'dr-cardio', licence: 'licensed', roles: ['attending'], department: 'dept-cardio', fhirUser: practitioner('dr-cardio') } },
  { key: 'attending-other', title: 'attending of another department (neuro, granted p2)', claims: { sub: 'dr-neuro', licence: 'licensed', roles: ['attending'], department: 'dept-neuro', fhirUser: practitioner('dr-neuro') } },
  { key: 'attending-btg', title: 'attending who broke the glass for p1 (emergency)', claims: { sub: 'dr-emerg', licence: 'licensed', roles: ['attending'], department: 'dept-emergency', fhirUser: practitioner('dr-emerg') } },
  { key: 'resident', title: 'resident (cardio, on p3\'s CareTeam)', claims: { sub: 'res-cardio', licence: 'licensed', roles: ['resident'], department: 'dept-cardio', fhirUser: practitioner('res-cardio') } },
  { key: 'chief', title: 'chief (cardio)', claims: { sub: 'chief-cardio', licence: 'licensed', roles: ['chief'], department: 'dept-cardio', fhirUser: practitioner('chief-cardio') } },
  { key: 'intern', title: 'intern (cardio, on p1\'s and p6\'s encounters)', claims: { sub: 'intern-cardio', roles: ['intern'], department: 'dept-cardio', fhirUser: practitioner('intern-cardio') } },
  { key: 'nurse', title: 'nurse (cardio)', claims: { sub: 'nurse-cardio', roles: ['nurse'], department: 'dept-cardio', fhirUser: practitioner('nurse-cardio') } },
  { key: 'record-room', title: 'record-room clerk', claims: { sub: 'clerk-diff', roles: ['record-room'] } },
  { key: 'medical-affairs', title: 'medical affairs', claims: { sub: 'ma-diff', roles: ['medical-affairs'], fhirUser: practitioner('ma-diff') } },
  { key: 'disputes-officer', title: 'disputes officer', claims: { sub: 'officer-diff', roles: ['disputes-officer'] } },
  { key: 'auditor', title: 'auditor', claims: { sub: 'auditor-diff', roles: ['auditor'] } },
  { key: 'admin', title: 'system administrator', claims: { sub: 'admin-diff', roles: ['admin'] } },
];
/** The hospital side's witness of the seal (another medical-affairs officer). */
const WITNESS: Partial<DevTokenRequest> = { sub: 'ma-witness', roles: ['medical-affairs'], fhirUser: practitioner('ma-witness') };

// ---------------------------------------------------------------- the hospital

const observation = (id: string, patient: string, encounter: string | undefined, code: string, effective: string, extra: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  identifier: [{ system: SYS, value: id }],
  code: { coding: [{ system: CODE, code }] },
  subject: { reference: `Patient/${patient}` },
  ...(encounter ? { encounter: { reference: `Encounter/${encounter}` } } : {}),
  effectiveDateTime: effective,
  valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  ...extra,
});
const label = (code: string) => ({ meta: { security: [{ system: CONFIDENTIALITY, code }] } });
const stay = (id: string, patient: string, dept: string, members: string[], period: Encounter['period'], status: Encounter['status'] = 'in-progress'): Encounter => ({
  ...inpatientStay(patient, dept, members.map(practitioner), { period, status }),
  id,
});
const composition = (id: string, patient: string, encounter: string, author: string, loinc: string, title: string): Composition => ({
  resourceType: 'Composition',
  id,
  status: 'final',
  type: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: `Patient/${patient}` },
  encounter: { reference: `Encounter/${encounter}` },
  date: daysAgo(1),
  author: [{ reference: practitioner(author) }],
  title,
  section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}</div>` } }],
});
const documentReference = (id: string, patient: string, encounter: string, text: string, extra: Partial<DocumentReference> = {}): DocumentReference => ({
  resourceType: 'DocumentReference',
  id,
  status: 'current',
  subject: { reference: `Patient/${patient}` },
  context: { encounter: [{ reference: `Encounter/${encounter}` }] },
  description: text,
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(text).toString('base64') } }],
  ...extra,
});

/** Every record the HIS PUTs, in order, with its chosen id: the same on both servers. */
const HOSPITAL: Resource[] = [
  ...['dr-cardio', 'dr-neuro', 'dr-emerg', 'res-cardio', 'chief-cardio', 'intern-cardio', 'nurse-cardio', 'ma-witness'].map(
    (id): Practitioner => ({ resourceType: 'Practitioner', id, name: [{ text: id }] }),
  ),
  ...['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((id): Patient => ({ resourceType: 'Patient', id, identifier: [{ system: SYS, value: id }], name: [{ family: `Diff-${id}`, given: ['Test'] }] })),
  stay('e1', 'p1', 'dept-cardio', ['dr-cardio', 'res-cardio', 'intern-cardio'], { start: daysAgo(3) }),
  stay('e2', 'p2', 'dept-cardio', ['chief-cardio'], { start: daysAgo(2) }),
  stay('e3', 'p3', 'dept-neuro', ['dr-neuro'], { start: daysAgo(4) }),
  stay('e4', 'p4', 'dept-cardio', ['dr-cardio'], { start: daysAgo(70), end: daysAgo(60) }, 'finished'),
  stay('e5', 'p5', 'dept-neuro', ['dr-neuro'], { start: daysAgo(5), end: daysAgo(1) }, 'finished'),
  stay('e6', 'p6', 'dept-cardio', ['dr-cardio', 'res-cardio', 'intern-cardio'], { start: daysAgo(1) }),
  {
    resourceType: 'CareTeam',
    id: 'ct3',
    status: 'active',
    subject: { reference: 'Patient/p3' },
    participant: [{ member: { reference: practitioner('res-cardio') } }],
  } satisfies CareTeam,
  observation('o1-1', 'p1', 'e1', 'hr', daysAgo(3, 1)),
  observation('o1-2', 'p1', 'e1', 'hr', daysAgo(2, 1)),
  observation('o1-3', 'p1', 'e1', 'hr', daysAgo(1, 1)),
  observation('o1-4', 'p1', undefined, 'hr', daysAgo(0, -2)),
  observation('o1-r', 'p1', 'e1', 'hr', daysAgo(1, 3), label('R')),
  observation('o2-1', 'p2', 'e2', 'hr', daysAgo(2, 2)),
  // p2's, pointing into neuro patient p3's record: `_include` must not carry p3's records to whoever may not see them.
  observation('o2-x', 'p2', 'e3', 'bp', daysAgo(2, 3), { hasMember: [{ reference: 'Observation/o3-1' }] }),
  observation('o3-1', 'p3', 'e3', 'hr', daysAgo(4, 1)),
  observation('o3-2', 'p3', 'e3', 'bp', daysAgo(3, 2)),
  observation('o4-1', 'p4', 'e4', 'hr', daysAgo(65)),
  observation('o5-1', 'p5', 'e5', 'hr', daysAgo(4, 3)),
  observation('o6-w', 'p6', 'e6', 'written', daysAgo(1, 2)),
  {
    resourceType: 'Condition',
    id: 'c1',
    subject: { reference: 'Patient/p1' },
    encounter: { reference: 'Encounter/e1' },
    code: { text: 'atrial fibrillation' },
    recordedDate: daysAgo(3),
  } satisfies Condition,
  { resourceType: 'Condition', id: 'c3', subject: { reference: 'Patient/p3' }, encounter: { reference: 'Encounter/e3' }, code: { text: 'stroke' }, recordedDate: daysAgo(4) } satisfies Condition,
  composition('comp1', 'p1', 'e1', 'dr-cardio', '11506-3', '病程记录'),
  composition('comp5', 'p5', 'e5', 'dr-neuro', '18842-5', '出院记录'),
  { ...composition('comp6', 'p6', 'e6', 'dr-cardio', '11506-3', '病程记录'), status: 'preliminary' },
  documentReference('doc1', 'p1', 'e1', 'discharge letter'),
  documentReference('doc1-v', 'p1', 'e1', 'psychiatric note', label('V')),
];
const DEPARTMENTS: [string, string][] = [
  ['dept-cardio', 'Cardiology'],
  ['dept-neuro', 'Neurology'],
  ['dept-emergency', 'Emergency'],
];
const keyOf = (r: Resource) => `${r.resourceType}/${r.id}`;

// ---------------------------------------------------------------- one server

/** One of the two servers under comparison, with its tokens and the aliases of the records clients created on it. */
interface Side {
  name: 'embedded' | 'remote';
  server: TestServer;
  database: string;
  tokens: Map<string, string>;
  /** A record's random id on this server → its alias (`<created-n>`), shared with the other server's id for the same record. */
  aliases: Map<string, string>;
}

/** What one request answered, reduced to what must be equal across the two stores. */
interface Observed {
  status: number;
  etag: string | null;
  location: string | null;
  /** The body; for a Bundle, every page (following `next`). */
  pages: unknown[];
}

/** One request of the corpus. `headers` may be computed on each server first (an If-Match of its current version). */
interface Step {
  label: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string> | ((side: Side) => Promise<Record<string, string>>);
  /** A write whose answer may name a record created under a random id: the two ids are aliased. */
  creates?: boolean;
}

const get = (path: string): Step => ({ label: `GET ${path}`, method: 'GET', path });
const MAX_PAGES = 30;

async function call(side: Side, token: string, step: Step): Promise<HttpResult<Resource>> {
  const headers = typeof step.headers === 'function' ? await step.headers(side) : (step.headers ?? {});
  const path = step.path.startsWith('http') ? step.path : step.path ? `${side.server.fhirBase}/${step.path}` : side.server.fhirBase;
  if (step.body !== undefined && typeof step.body === 'string') {
    return httpRequest<Resource>(path, step.method, { token, body: step.body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  }
  return httpRequest<Resource>(path, step.method, { token, body: step.body, headers });
}

/** Runs `step` on one server as `actor`, following a Bundle's `next` links to the end. */
async function observe(side: Side, actor: string, step: Step): Promise<{ first: HttpResult<Resource>; pages: Resource[] }> {
  const token = side.tokens.get(actor) as string;
  const first = await call(side, token, step);
  const pages: Resource[] = [first.body];
  let page = first.body as Bundle | undefined;
  while (first.status === 200 && page?.resourceType === 'Bundle' && page.type !== 'transaction-response') {
    const next = page.link?.find((l) => l.relation === 'next')?.url;
    if (!next) break;
    if (pages.length >= MAX_PAGES) throw new Error(`${side.name}: ${step.label} pages without end`);
    const res = await httpRequest<Bundle>(next, 'GET', { token });
    // A refused page is part of the answer too.
    pages.push(res.status === 200 ? res.body : ({ resourceType: 'OperationOutcome', id: `page-status-${res.status}`, ...(res.body as object) } as Resource));
    page = res.status === 200 ? res.body : undefined;
  }
  return { first, pages };
}

/**
 * What must be equal on both servers: the JSON with the server's own base URLs, the aliases of
 * created records, the instants of each server's clock (`meta.lastUpdated`, `lastModified`, a
 * ledger entry's `recorded`, a signature's time), Bundle ids and timestamps, and paging-link URLs
 * (signed tokens) taken out; an OperationOutcome reduced to its issues' severity, code and
 * ChartWarden error codes (diagnostics name request ids and case ids).
 */
function canonical(side: Side, value: unknown): unknown {
  if (value === undefined) return null;
  let text = JSON.stringify(value).replaceAll(side.server.fhirBase, '<fhir>').replaceAll(side.server.root, '<root>');
  for (const [id, alias] of side.aliases) text = text.replaceAll(id, alias);
  // A signature's time, a ledger entry's: each server's own clock (inside `$changes` texts too).
  text = text.replace(SERVER_INSTANT, (instant) => (CHOSEN_INSTANTS.has(instant) ? instant : '<instant>'));
  return strip(JSON.parse(text));
}

/** When each server wrote a version: its own clock's instant, never the same on two servers. */
const INSTANTS_OF_THE_WRITE = new Set(['lastUpdated', 'lastModified']);

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  if (record.resourceType === 'OperationOutcome') {
    const outcome = record as unknown as OperationOutcome;
    return {
      resourceType: 'OperationOutcome',
      ...(outcome.id?.startsWith('page-status-') ? { page: outcome.id } : {}),
      issue: (outcome.issue ?? []).map((i) => ({ severity: i.severity, code: i.code, codes: (i.details?.coding ?? []).map((c) => c.code) })),
    };
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(record)) {
    if (INSTANTS_OF_THE_WRITE.has(key)) continue;
    if (record.resourceType === 'Bundle' && (key === 'id' || key === 'timestamp')) continue;
    if (record.resourceType === 'Bundle' && key === 'link') {
      out.link = (v as { relation: string }[]).map((l) => l.relation);
      continue;
    }
    out[key] = strip(v);
  }
  if (out.meta && typeof out.meta === 'object' && Object.keys(out.meta).length === 0) delete out.meta;
  return out;
}

/** Where two canonical answers first differ, as `path: embedded ≠ remote`; undefined when equal. */
function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  const show = (v: unknown) => {
    const text = JSON.stringify(v) ?? 'undefined';
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  };
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return `${path || '.'}: embedded ${show(a)} ≠ remote ${show(b)}`;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}${Array.isArray(a) ? `[${k}]` : `.${k}`}`);
      if (d) return d;
    }
  }
  return `${path || '.'}: embedded ${show(a)} ≠ remote ${show(b)}`;
}

/**
 * The ids a write answered with, in order: the record's, or for a transaction or batch each
 * entry's (from its `response.location`, `Type/id/_history/n`). Created records get a random id
 * on each server; paired by position, the two are aliased.
 */
function writtenIds(res: HttpResult<Resource>): (string | undefined)[] {
  const body = res.body;
  if (res.status >= 300 || !body?.resourceType || body.resourceType === 'OperationOutcome') return [];
  if (body.resourceType !== 'Bundle') return [body.id];
  return ((body as Bundle).entry ?? []).map((e) => e.response?.location?.replace(/^.*?\b[A-Z][A-Za-z]+\/([^/]+)(\/_history\/.*)?$/, '$1'));
}

// ---------------------------------------------------------------- the corpus

/** Reads and searches every actor makes, before and after the writes. */
const READS: Step[] = [
  ...['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((id) => get(`Patient/${id}`)),
  ...['o1-1', 'o1-r', 'o2-1', 'o3-1', 'o4-1', 'o5-1', 'o6-w'].map((id) => get(`Observation/${id}`)),
  ...['Encounter/e1', 'Encounter/e4', 'Condition/c1', 'Condition/c3', 'CareTeam/ct3', 'Composition/comp1', 'Composition/comp5', 'DocumentReference/doc1', 'DocumentReference/doc1-v'].map(get),
  get('Organization/dept-cardio'),
  get('Practitioner/dr-cardio'),
  get('Observation/does-not-exist'),
  get('Observation/o1-1/_history/1'),
  get('Observation/o1-1/_history/2'),
  get('Observation/o1-1/_history/9'),
  get('Observation/o1-1/_history'),
  get('Observation/_history?_count=50'),
  get(`Observation?code=${CODE}|hr&_sort=-date&_count=2`),
  get(`Observation?code=${CODE}|hr&_sort=date&_count=3&_total=accurate`),
  get('Observation?patient=p1&_sort=-date&_include=Observation:encounter&_count=2'),
  get('Observation?patient=p1&_sort=date&_include=Observation:patient&_include=Observation:encounter'),
  get('Observation?subject=Patient/p3&_sort=-date&_revinclude=Provenance:target'),
  get('Observation?patient=p4'),
  get('Observation?patient=p5&_total=accurate'),
  get('Observation?_summary=count'),
  get('Observation?_sort=-_lastUpdated&_count=25'),
  get(`Observation?code=${CODE}|written&_sort=-date&_count=15`),
  get('Encounter?patient=p1&_revinclude=Observation:encounter'),
  get('Observation?patient=p2&_sort=-date&_include=Observation:encounter&_include=Observation:has-member'),
  get('Encounter?_id=e2,e3&_revinclude=Observation:encounter'),
  get('Encounter?service-provider=Organization/dept-cardio&_sort=-date&_include=Encounter:patient&_count=2&_total=accurate'),
  get('Encounter?_sort=date&_count=4'),
  get('Patient?_count=2'),
  get('Patient?_id=p1,p2,p3&_revinclude=Encounter:patient&_revinclude=CareTeam:patient'),
  get(`Patient?identifier=${SYS}|p5`),
  get('Condition?_count=1&_total=accurate'),
  get('CareTeam?patient=p3&_include=CareTeam:participant'),
  get('Composition?patient=p1&_include=Composition:author'),
  get('DocumentReference?patient=p1'),
  get('Organization?_count=1'),
  get('Practitioner?_count=5'),
  get('Patient/p1/$everything?_count=4'),
  get('Patient/p3/$everything'),
  get('Patient/p6/$everything?_count=20'),
  { label: 'POST Observation/_search patient=p2', method: 'POST', path: 'Observation/_search', body: 'patient=p2&_sort=-date' },
  // What neither store can answer is refused alike.
  get('Observation?subject:Patient.name=Diff-p1'),
  get('Observation?_has:Provenance:target:agent=Practitioner/dr-cardio'),
  get('Observation?_include:iterate=Observation:encounter'),
];

/** The version ChartWarden holds now of `ref`, as the HIS reads it on that server (for an If-Match). */
async function currentVersion(side: Side, ref: string): Promise<string> {
  const res = await httpRequest<Resource>(`${side.server.fhirBase}/${ref}`, 'GET', { token: side.tokens.get('his') });
  if (res.status !== 200) throw new Error(`${side.name}: reading ${ref} as the HIS: ${res.status} ${res.text}`);
  return res.body.meta?.versionId as string;
}

/** The writes each actor tries, in order; most roles are refused, and refusals must match too. */
function writes(actor: Actor, n: number): Step[] {
  const a = actor.key;
  /** Each record this actor writes on p6 has an effective time of its own: sorted by date, ties would fall back to random ids. */
  const at = (minute: number) => daysAgo(0, -((n + 1) * 15 + minute) / 60);
  const { id: _none, ...created } = observation('', 'p6', 'e6', 'written', at(0), { identifier: [{ system: SYS, value: `created-${a}` }] });
  const conditional = { ...created, identifier: [{ system: SYS, value: `cond-${a}` }], effectiveDateTime: at(1) };
  const conditionalUpdate = { ...created, identifier: [{ system: SYS, value: `condupd-${a}` }], effectiveDateTime: at(2) };
  const update = (note: string) => ({ ...observation('o6-w', 'p6', 'e6', 'written', daysAgo(1, 2)), note: [{ text: note }] });
  const txEntry = (suffix: string, minute: number): BundleEntry => ({
    request: { method: 'PUT', url: `Observation/tx-${a}-${suffix}` },
    resource: observation(`tx-${a}-${suffix}`, 'p6', 'e6', 'written', at(minute)),
  });
  const draft = HOSPITAL.find((r) => keyOf(r) === 'Composition/comp6') as Composition;
  const batchEntry = (method: 'GET' | 'PUT', url: string, resource?: Resource): BundleEntry => ({ request: { method, url }, ...(resource ? { resource } : {}) });
  return [
    { label: 'POST Observation (create)', method: 'POST', path: 'Observation', body: created, creates: true },
    { label: 'POST Observation If-None-Exist (conditional create)', method: 'POST', path: 'Observation', body: conditional, headers: { 'if-none-exist': `identifier=${SYS}|cond-${a}` }, creates: true },
    { label: 'POST Observation If-None-Exist again (finds the first)', method: 'POST', path: 'Observation', body: conditional, headers: { 'if-none-exist': `identifier=${SYS}|cond-${a}` }, creates: true },
    {
      label: 'PUT Observation?identifier (conditional update that creates)',
      method: 'PUT',
      path: `Observation?identifier=${SYS}|condupd-${a}`,
      body: conditionalUpdate,
      creates: true,
    },
    {
      label: 'PUT Observation?identifier again (updates it)',
      method: 'PUT',
      path: `Observation?identifier=${SYS}|condupd-${a}`,
      body: { ...conditionalUpdate, status: 'amended' },
      creates: true,
    },
    {
      label: 'PUT Observation/o6-w If-Match current',
      method: 'PUT',
      path: 'Observation/o6-w',
      body: update(`checked by ${a}`),
      headers: async (side) => ({ 'if-match': `W/"${await currentVersion(side, 'Observation/o6-w')}"` }),
    },
    { label: 'PUT Observation/o6-w If-Match W/"1" (stale)', method: 'PUT', path: 'Observation/o6-w', body: update(`stale by ${a}`), headers: { 'if-match': 'W/"1"' } },
    {
      label: 'PATCH Observation/o6-w (JSON Patch)',
      method: 'PATCH',
      path: 'Observation/o6-w',
      body: [{ op: 'replace', path: '/valueQuantity/value', value: 60 + n }],
      headers: { 'content-type': 'application/json-patch+json' },
    },
    { label: 'PUT Observation/o6-w Prefer: return=minimal', method: 'PUT', path: 'Observation/o6-w', body: update(`minimal by ${a}`), headers: { prefer: 'return=minimal' } },
    { label: 'DELETE Observation/o6-w (never)', method: 'DELETE', path: 'Observation/o6-w' },
    { label: 'PUT Observation/o5-1 (sealed, R-41)', method: 'PUT', path: 'Observation/o5-1', body: { ...observation('o5-1', 'p5', 'e5', 'hr', daysAgo(4, 3)), note: [{ text: a }] } },
    { label: 'PUT Condition/c3 (neuro patient)', method: 'PUT', path: 'Condition/c3', body: { ...(HOSPITAL.find((r) => keyOf(r) === 'Condition/c3') as Condition), note: [{ text: `seen by ${a}` }] } },
    {
      label: 'PUT Composition/comp6 (a document: edit window, ledger)',
      method: 'PUT',
      path: 'Composition/comp6',
      body: { ...draft, title: `病程记录 (${a})` },
      headers: { 'x-edit-reason': encodeURIComponent(`补充 ${a}`) },
    },
    { label: 'POST Composition/comp6/$sign', method: 'POST', path: 'Composition/comp6/$sign', creates: true },
    {
      label: 'POST transaction (two PUTs)',
      method: 'POST',
      path: '',
      body: { resourceType: 'Bundle', type: 'transaction', entry: [txEntry('a', 3), txEntry('b', 4)] } satisfies Bundle,
    },
    {
      label: 'POST transaction (two POSTs, one naming the other by urn:uuid)',
      method: 'POST',
      path: '',
      creates: true,
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, request: { method: 'POST', url: 'Observation' }, resource: { ...created, identifier: [{ system: SYS, value: `panel-${a}` }], effectiveDateTime: at(7) } },
          {
            request: { method: 'POST', url: 'Observation' },
            resource: {
              ...created,
              identifier: [{ system: SYS, value: `member-${a}` }],
              effectiveDateTime: at(8),
              derivedFrom: [{ reference: `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}` }],
            },
          },
        ],
      } satisfies Bundle,
    },
    get(`Observation?identifier=${SYS}|member-${a}&_include=Observation:derived-from`),
    {
      label: 'PATCH Observation/o6-w If-Match W/"1" (stale)',
      method: 'PATCH',
      path: 'Observation/o6-w',
      body: [{ op: 'replace', path: '/status', value: 'amended' }],
      headers: { 'content-type': 'application/json-patch+json', 'if-match': 'W/"1"' },
    },
    {
      label: 'POST transaction with an entry of neuro patient p3 (all or nothing)',
      method: 'POST',
      path: '',
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [txEntry('c', 5), batchEntry('PUT', 'Observation/o3-2', { ...observation('o3-2', 'p3', 'e3', 'bp', daysAgo(3, 2)), note: [{ text: a }] })],
      } satisfies Bundle,
    },
    get(`Observation/tx-${a}-c`),
    {
      label: 'POST batch (reads and a write, each judged alone)',
      method: 'POST',
      path: '',
      body: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          batchEntry('GET', 'Observation/o1-1'),
          batchEntry('GET', 'Observation/o3-1'),
          batchEntry('GET', `Observation?patient=p2&_sort=-date`),
          batchEntry('PUT', `Observation/batch-${a}`, observation(`batch-${a}`, 'p6', 'e6', 'written', at(6))),
        ],
      } satisfies Bundle,
    },
    get('Observation/o6-w'),
    get('Observation/o6-w/_history'),
    get('Observation/o6-w/_history/2'),
    get('Composition/comp6/$changes'),
    get('Composition/comp6/_history'),
    get('Observation?patient=p6&_sort=-_lastUpdated&_count=15'),
    get('Observation?patient=p6&_summary=true&_sort=-_lastUpdated&_count=20'),
    get('Observation?patient=p6&_elements=status,valueQuantity&_sort=-_lastUpdated&_count=20'),
  ];
}

/** What the seed makes of a few reads for each actor: proves the corpus meets both allowed and refused records. */
const DECISIONS: Record<string, number[]> = {
  //                     o1-1 o1-r doc1-v o2-1 o3-1 o4-1 o5-1 dept
  his: /*             */ [200, 200, 200, 200, 200, 200, 200, 200],
  attending: /*       */ [200, 403, 403, 200, 403, 403, 403, 200],
  'attending-other': /**/ [403, 403, 403, 200, 200, 403, 200, 200],
  'attending-btg': /* */ [200, 200, 403, 403, 403, 403, 403, 200],
  resident: /*        */ [200, 403, 403, 200, 200, 403, 403, 200],
  chief: /*           */ [200, 200, 403, 200, 403, 403, 403, 200],
  intern: /*          */ [200, 403, 403, 403, 403, 403, 403, 200],
  nurse: /*           */ [200, 403, 403, 200, 403, 403, 403, 200],
  'record-room': /*   */ [200, 403, 403, 200, 200, 200, 200, 200],
  'medical-affairs': /**/ [200, 200, 200, 200, 200, 200, 200, 200],
  'disputes-officer': [200, 403, 403, 200, 200, 200, 200, 200],
  auditor: /*         */ [403, 403, 403, 403, 403, 403, 403, 200],
  admin: /*           */ [403, 403, 403, 403, 403, 403, 403, 200],
};
const DECISION_READS = ['Observation/o1-1', 'Observation/o1-r', 'DocumentReference/doc1-v', 'Observation/o2-1', 'Observation/o3-1', 'Observation/o4-1', 'Observation/o5-1', 'Organization/dept-cardio'];

describe('issue #17: the embedded and the remote store give every role the same decisions and records (differential, e2e)', () => {
  let peer: FhirPeer | undefined;
  const sides: Side[] = [];
  let aliasCount = 0;

  /** Seeds the hospital through ChartWarden's API on one server; anything unexpected fails the setup. */
  async function seedHospital(side: Side): Promise<void> {
    const his = side.tokens.get('his') as string;
    const fhir = fhirApi(() => side.server.fhirBase);
    const workflow = jsonApi(() => side.server.root);
    const expectCall = async <T>(what: string, res: Promise<HttpResult<T>>, statuses: number[]): Promise<T> => {
      const r = await res;
      if (!statuses.includes(r.status)) throw new Error(`${side.name}: ${what}: ${r.status} ${r.text}`);
      return r.body;
    };
    await putDepartments(fhir, his, DEPARTMENTS);
    for (const resource of HOSPITAL) await expectCall(`PUT ${keyOf(resource)}`, fhir(his, 'PUT', keyOf(resource), resource), [201]);
    // o1-1 gets a second version, for vread and history.
    await expectCall('PUT Observation/o1-1 v2', fhir(his, 'PUT', 'Observation/o1-1', { ...HOSPITAL.find((r) => r.id === 'o1-1'), note: [{ text: 'rechecked' }] }, { 'if-match': 'W/"1"' }), [200]);

    // R-05: the neuro attending asks for p2, medical affairs approves.
    const grant = await expectCall<{ id: string }>(
      'grant request',
      workflow(side.tokens.get('attending-other') as string, 'POST', '/access/grants', {
        grantee: 'dr-neuro',
        patient: 'p2',
        purpose: 'continuity-of-care',
        reason: 'Cardiology asked for a neurology opinion',
        until: new Date(NOW + DAY).toISOString(),
      }),
      [201],
    );
    await expectCall('grant approval', workflow(side.tokens.get('medical-affairs') as string, 'POST', `/access/grants/${grant.id}/approve`, { note: 'ok' }), [200]);
    // R-04: the emergency attending breaks the glass for p1.
    await expectCall(
      'break-the-glass',
      fhir(side.tokens.get('attending-btg') as string, 'GET', 'Observation/o1-1', undefined, { category: BTG_CATEGORY, 'x-break-glass-reason': 'unconscious on arrival' }),
      [200],
    );
    // R-40: p5's record sealed in a dispute case, with both sides' witnesses.
    const officer = side.tokens.get('disputes-officer') as string;
    const dispute = await expectCall<{ id: string }>(
      'open dispute',
      workflow(officer, 'POST', '/disputes', { patient: 'Patient/p5', reason: '患方对诊疗有异议', scope: { kind: 'whole-record' } }),
      [201],
    );
    const { digest } = await expectCall<{ digest: string }>('inventory', workflow(officer, 'GET', `/disputes/${dispute.id}/inventory`), [200]);
    await expectCall('witness confirms', workflow(side.tokens.get('witness') as string, 'POST', `/disputes/${dispute.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), [201]);
    await expectCall('seal', workflow(officer, 'POST', `/disputes/${dispute.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), [200]);
  }

  async function openSide(name: Side['name'], options: Parameters<typeof startTestServer>[0]): Promise<Side> {
    const database = `cw_diff_${name}_${RUN}`;
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    const server = await startTestServer({ ...options, databaseUrl: urlOf(database) });
    const side: Side = { name, server, database, tokens: new Map(), aliases: new Map() };
    sides.push(side);
    for (const actor of ACTORS) side.tokens.set(actor.key, await server.token(actor.claims));
    side.tokens.set('witness', await server.token(WITNESS));
    return side;
  }

  beforeAll(async () => {
    peer = await startFhirPeer();
    const opened = await Promise.all([
      openSide('embedded', { metrics: { enabled: true } }),
      openSide('remote', { metrics: { enabled: true }, store: { kind: 'remote', url: (peer as FhirPeer).baseUrl, syncIntervalSeconds: 0 } }),
    ]);
    await Promise.all(opened.map(seedHospital));
  }, 120_000);

  afterAll(async () => {
    await closeAll(...sides.map((s) => s.server), peer);
    for (const side of sides) await dropThrowawayDatabase(urlOf(), side.database);
  }, 60_000);

  /** The two servers by what they are (`sides` holds them in the order they happened to start, for closing). */
  const sideNamed = (name: Side['name']) => sides.find((s) => s.name === name) as Side;
  const [embedded, remote] = [() => sideNamed('embedded'), () => sideNamed('remote')];

  /** Runs one step on both servers at once and says how their answers differ (undefined when alike). */
  async function compare(actor: Actor, step: Step): Promise<{ difference?: string; statuses: [number, number] }> {
    const [e, r] = await Promise.all([observe(embedded(), actor.key, step), observe(remote(), actor.key, step)]);
    if (step.creates) {
      const [eids, rids] = [writtenIds(e.first), writtenIds(r.first)];
      eids.forEach((eid, n) => {
        const rid = rids[n];
        if (eid && rid && eid !== rid && !embedded().aliases.has(eid) && !remote().aliases.has(rid)) {
          const alias = `<created-${++aliasCount}>`;
          embedded().aliases.set(eid, alias);
          remote().aliases.set(rid, alias);
        }
      });
    }
    const view = (side: Side, o: { first: HttpResult<Resource>; pages: Resource[] }): Observed => ({
      status: o.first.status,
      etag: o.first.headers.get('etag'),
      location: canonical(side, o.first.headers.get('location') ?? undefined) as string | null,
      pages: o.pages.map((p) => canonical(side, p)),
    });
    const difference = firstDifference(view(embedded(), e), view(remote(), r));
    return { difference: difference && `${actor.title} · ${step.label} · ${difference}`, statuses: [e.first.status, r.first.status] };
  }

  it('issue #17: the remote server keeps the hospital in the peer, under ChartWarden\'s version numbers', async () => {
    const held = new Set((peer as FhirPeer).changes().map((c) => `${c.resourceType}/${c.id}`));
    const seeded = [...HOSPITAL.map(keyOf), ...DEPARTMENTS.map(([id]) => `Organization/${id}`)];
    expect(seeded.filter((k) => !held.has(k))).toEqual([]);
    // The peer's copy is the record ChartWarden serves (the peer numbers its versions itself).
    const direct = await httpRequest<Observation>(`${(peer as FhirPeer).baseUrl}/Observation/o1-1`, 'GET');
    expect(direct.status).toBe(200);
    const served = await httpRequest<Observation>(`${remote().server.fhirBase}/Observation/o1-1`, 'GET', { token: remote().tokens.get('his') });
    expect(served.status).toBe(200);
    expect(served.body.meta?.versionId).toBe('2');
    expect(direct.body.meta?.versionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const { meta: _d, ...directContent } = direct.body;
    const { meta: _s, ...servedContent } = served.body;
    expect(directContent).toEqual(servedContent);
    expect(directContent.note).toEqual([{ text: 'rechecked' }]);
  });

  it.each(ACTORS.map((a, n) => [a.title, a, n] as const))('issue #17: %s gets the same answers from both stores', async (_title, actor, n) => {
    const peerRequestsBefore = (peer as FhirPeer).requests.length;
    const mismatches: string[] = [];
    const seen = new Map<string, [number, number]>();
    for (const step of [...READS, ...writes(actor, n)]) {
      const { difference, statuses } = await compare(actor, step);
      if (difference) mismatches.push(difference);
      // The same failure on both is no agreement.
      else if (statuses.some((s) => s >= 500)) mismatches.push(`${actor.title} · ${step.label} · ${statuses.join(' and ')} on both`);
      if (step.method === 'GET') seen.set(step.path, statuses);
    }
    const decisions = DECISION_READS.map((ref) => seen.get(ref));
    const expected = DECISIONS[actor.key].map((s) => [s, s]);
    expect({ mismatches, decisions }).toEqual({ mismatches: [], decisions: expected });
    // The remote server asked the upstream (reads bring records up to it; writes go to it).
    expect((peer as FhirPeer).requests.length).toBeGreaterThan(peerRequestsBefore);
  }, 60_000);

  /** How many tripwire alarms the server raised (decision 0017, E): a record changed or dropped past ChartWarden. */
  const tripwireAlarms = async (side: Side): Promise<number> => {
    const res = await httpRequest<unknown>(`${side.server.root}/metrics`, 'GET', { headers: { accept: 'text/plain' } });
    expect(res.status).toBe(200);
    const line = /^chartwarden_tripwire_alarms_total (\d+)$/m.exec(res.text);
    expect(line).not.toBeNull();
    return Number(line?.[1]);
  };

  it('issue #17: the whole corpus went through ChartWarden, so the remote store raised no tripwire alarm', async () => {
    expect({ embedded: await tripwireAlarms(embedded()), remote: await tripwireAlarms(remote()) }).toEqual({ embedded: 0, remote: 0 });
  });

  it('issue #17 (0017 E): a record moved to another patient on the upstream directly is judged on its new patient, as the same move written through ChartWarden is', async () => {
    const moved = { ...(HOSPITAL.find((r) => keyOf(r) === 'Observation/o1-4') as Observation), subject: { reference: 'Patient/p3' } };
    const through = await httpRequest(`${embedded().server.fhirBase}/Observation/o1-4`, 'PUT', { token: embedded().tokens.get('his'), body: moved, headers: { 'if-match': 'W/"1"' } });
    expect(through.status).toBe(200);
    const past = await httpRequest(`${(peer as FhirPeer).baseUrl}/Observation/o1-4`, 'PUT', { body: moved });
    expect(past.status).toBe(200);

    // The HIS looks first, with a search the moved record no longer belongs to: the remote store's
    // index still files it under p1 until the page's records are brought up to the upstream.
    const steps = [
      get('Observation?patient=p1&_sort=-date'),
      get('Observation/o1-4'),
      get('Observation?patient=p3&_sort=-date'),
      get('Observation/o1-4/_history'),
      get('Patient/p1/$everything'),
      get('Patient/p3/$everything'),
    ];
    const mismatches: string[] = [];
    const statuses: Record<string, number> = {};
    for (const actor of ACTORS) {
      for (const step of steps) {
        const { difference, statuses: [e, r] } = await compare(actor, step);
        if (difference) mismatches.push(difference);
        if (step.path === 'Observation/o1-4') statuses[actor.key] = e === r ? e : -1;
      }
    }
    expect(mismatches).toEqual([]);
    // Now p3's: the neuro attending (p3's) and the cardio resident (p3's CareTeam) read it; the cardio attending and nurse no longer do.
    expect(statuses).toMatchObject({ 'attending-other': 200, resident: 200, attending: 403, nurse: 403, 'attending-btg': 403 });
    // The remote store adopted the upstream's version and alarmed; the embedded store has nothing to alarm about.
    const alarms = { embedded: await tripwireAlarms(embedded()), remote: await tripwireAlarms(remote()) };
    expect(alarms.remote).toBeGreaterThan(0);
    expect(alarms.embedded).toBe(0);
  }, 60_000);

  it('issue #17: after the corpus, both stores and the peer hold the same observations', async () => {
    const count = async (side: Side) =>
      (await httpRequest<Bundle>(`${side.server.fhirBase}/Observation?_summary=count`, 'GET', { token: side.tokens.get('his') })).body.total;
    const [e, r] = [await count(embedded()), await count(remote())];
    const upstream = await httpRequest<Bundle>(`${(peer as FhirPeer).baseUrl}/Observation?_count=1000`, 'GET');
    expect(upstream.status).toBe(200);
    expect(aliasCount).toBeGreaterThan(0);
    expect({ embedded: e, remote: r, peer: upstream.body.entry?.length }).toEqual({ embedded: e, remote: e, peer: e });
    expect(e).toBeGreaterThan(HOSPITAL.filter((x) => x.resourceType === 'Observation').length);
    // How the remote server used the peer: reads brought up to it, search pages fetched by id, writes and transactions sent to it.
    const asked = (peer as FhirPeer).requests.map((q) => `${q.method} ${q.url.split('?')[0]}${q.url.includes('_id=') ? '?_id' : ''}`);
    for (const request of ['GET /Observation/o1-1', 'GET /Observation?_id', 'GET /Encounter?_id', 'PUT /Observation/o6-w', 'POST /']) expect(asked).toContain(request);
  });
});

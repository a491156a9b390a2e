import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Bundle, BundleEntry, Encounter, Observation, ObservationComponent, Patient, Quantity, Resource } from '@medplum/fhirtypes';
import { patient } from './fixtures.js';
import { call, fhirHeaders } from './seed.js';

/**
 * What the scaling part (issue #13) seeds: a hospital of inpatients, one of them a long stay
 * whose vital signs are loaded in steps, all over HTTP in transaction Bundles as a HIS would.
 */

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const VITAL_SIGNS = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] };
/** The long stay starts here; one vital sign every 5 minutes after it (100,000 of them is 347 days, all in the past). */
const STAY_START = Date.UTC(2025, 5, 1);
const FIVE_MINUTES = 5 * 60_000;

/** One vital sign of the rotation: LOINC code(s) and either a quantity or (the BP panel) components. */
interface VitalSign {
  codes: { code: string; display: string }[];
  quantity?: (n: number) => Quantity;
  components?: (n: number) => ObservationComponent[];
}

const ucum = (value: number, code: string, unit = code): Quantity => ({ value, unit, system: UCUM, code });
const wave = (n: number, low: number, span: number, digits = 0) => Number((low + ((n * 7919) % 1000) / 1000 * span).toFixed(digits));

/** The 8 vital signs a ward charts, in rotation (the FHIR vital-signs profile's codes). */
export const VITALS: readonly VitalSign[] = [
  { codes: [{ code: '8867-4', display: 'Heart rate' }], quantity: (n) => ucum(wave(n, 58, 45), '/min', 'beats/minute') },
  { codes: [{ code: '9279-1', display: 'Respiratory rate' }], quantity: (n) => ucum(wave(n, 12, 10), '/min', 'breaths/minute') },
  {
    codes: [
      { code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
      { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
    ],
    quantity: (n) => ucum(wave(n, 92, 8), '%'),
  },
  { codes: [{ code: '8310-5', display: 'Body temperature' }], quantity: (n) => ucum(wave(n, 36.1, 2.2, 1), 'Cel', '°C') },
  {
    codes: [{ code: '85354-9', display: 'Blood pressure panel with all children optional' }],
    components: (n) => [
      { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: ucum(wave(n, 100, 60), 'mm[Hg]', 'mmHg') },
      { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: ucum(wave(n + 3, 55, 40), 'mm[Hg]', 'mmHg') },
    ],
  },
  { codes: [{ code: '29463-7', display: 'Body weight' }], quantity: (n) => ucum(wave(n, 60, 0.8, 1), 'kg') },
  { codes: [{ code: '8302-2', display: 'Body height' }], quantity: () => ucum(172, 'cm') },
  { codes: [{ code: '39156-5', display: 'Body mass index (BMI) [Ratio]' }], quantity: (n) => ucum(wave(n, 20.3, 0.3, 1), 'kg/m2') },
];

/** The code the code-filtered and broad searches ask for: heart rate, first of the rotation. */
export const SEARCHED_CODE = VITALS[0].codes[0].code;

/** How many of the first `size` vital signs of a rotation carry `SEARCHED_CODE`. */
export function withSearchedCode(size: number): number {
  return Math.ceil(size / VITALS.length);
}

/** When vital sign `n` of the long stay was taken: one every 5 minutes from the admission. */
export function takenAt(n: number): string {
  return new Date(STAY_START + n * FIVE_MINUTES).toISOString();
}

/** Vital sign `n` of the rotation, charted on `encounter` for `subject` (references or `urn:uuid`s). */
export function vitalSign(subject: string, encounter: string, n: number): Observation {
  const vital = VITALS[n % VITALS.length];
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [VITAL_SIGNS],
    code: { coding: vital.codes.map((c) => ({ system: LOINC, ...c })), text: vital.codes[0].display },
    subject: { reference: subject },
    encounter: { reference: encounter },
    effectiveDateTime: takenAt(n),
    ...(vital.quantity ? { valueQuantity: vital.quantity(n) } : {}),
    ...(vital.components ? { component: vital.components(n) } : {}),
  };
}

/** An in-progress inpatient stay in `department`, with `practitioner` as participant when given. */
function inpatientStay(subject: string, department: string, practitioner?: string): Encounter {
  return {
    resourceType: 'Encounter',
    status: 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP', display: 'inpatient encounter' },
    subject: { reference: subject },
    period: { start: takenAt(0) },
    serviceProvider: { reference: `Organization/${department}` },
    ...(practitioner ? { participant: [{ individual: { reference: practitioner } }] } : {}),
  };
}

type Seedable = Patient | Encounter | Observation;

/** A transaction Bundle POSTing each resource under its own `urn:uuid` (references between them resolved by the server). */
function transaction(entries: { fullUrl: string; resource: Seedable }[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map(({ fullUrl, resource }): BundleEntry => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } })),
  };
}

/**
 * POSTs a transaction; returns the ids the server gave its entries, in order. Every entry must
 * answer 201: a Bundle that stored less than it was sent is a failed seed, not a slow one.
 */
async function postTransaction(fhirBase: string, token: string, entries: { fullUrl: string; resource: Seedable }[]): Promise<string[]> {
  const { body } = await call<Bundle>('POST', fhirBase, fhirHeaders(token), transaction(entries), [200]);
  const answered = body.entry ?? [];
  if (answered.length !== entries.length) throw new Error(`a transaction of ${entries.length} entries answered ${answered.length}`);
  return answered.map((e, i) => {
    const id = e.resource?.id ?? /\/([^/]+)\/_history\//.exec(e.response?.location ?? '')?.[1];
    if (!id || !e.response?.status?.startsWith('201')) throw new Error(`transaction entry ${i} was not created: ${JSON.stringify(e).slice(0, 300)}`);
    return id;
  });
}

export interface HospitalPlan {
  patients: number;
  /** Every tenth patient (the long stay among them) is admitted here; the others to `dept-other-1…9`. */
  department: string;
  /** `Practitioner/<id>` on the long stay's encounter. */
  clinician: string;
  /** Vital signs charted for every patient but the long stay. */
  vitalsPerPatient: number;
  patientsPerBundle: number;
  parallel: number;
}

export interface Hospital {
  patients: number;
  /** Ids of the patients admitted to the plan's department (the long stay included). */
  departmentPatients: Set<string>;
  longStay: { patientId: string; encounterId: string };
  /** Resources stored, and the time it took. */
  resources: number;
  ms: number;
}

/**
 * The hospital: each patient with an in-progress stay and a few vital signs, in Bundles of
 * `patientsPerBundle` patients. Patient 0 is the long stay: admitted to the department with
 * the clinician as participant, its vital signs loaded later by `loadLongStay`.
 */
export async function seedHospital(fhirBase: string, token: string, plan: HospitalPlan): Promise<Hospital> {
  const started = performance.now();
  const groups: number[][] = [];
  for (let first = 0; first < plan.patients; first += plan.patientsPerBundle) {
    groups.push(Array.from({ length: Math.min(plan.patientsPerBundle, plan.patients - first) }, (_, k) => first + k));
  }
  const departmentPatients = new Set<string>();
  let longStay: Hospital['longStay'] | undefined;
  let resources = 0;
  await inParallel(groups, plan.parallel, async (group) => {
    const entries: { fullUrl: string; resource: Seedable }[] = [];
    const roles: { n: number; patientAt: number; encounterAt: number }[] = [];
    for (const n of group) {
      const p = `urn:uuid:${randomUUID()}`;
      const e = `urn:uuid:${randomUUID()}`;
      const inDepartment = n % 10 === 0;
      roles.push({ n, patientAt: entries.length, encounterAt: entries.length + 1 });
      entries.push({ fullUrl: p, resource: patient(n) });
      entries.push({ fullUrl: e, resource: inpatientStay(p, inDepartment ? plan.department : `dept-other-${n % 10}`, n === 0 ? plan.clinician : undefined) });
      if (n === 0) continue;
      for (let k = 0; k < plan.vitalsPerPatient; k++) entries.push({ fullUrl: `urn:uuid:${randomUUID()}`, resource: vitalSign(p, e, k) });
    }
    const ids = await postTransaction(fhirBase, token, entries);
    resources += ids.length;
    for (const r of roles) {
      if (r.n % 10 === 0) departmentPatients.add(ids[r.patientAt]);
      if (r.n === 0) longStay = { patientId: ids[r.patientAt], encounterId: ids[r.encounterAt] };
    }
  });
  if (!longStay) throw new Error('the hospital has no patient 0 (BENCH_SCALE_PATIENTS must be at least 1)');
  return { patients: plan.patients, departmentPatients, longStay, resources, ms: performance.now() - started };
}

/** Bulk-load figures of one step: Bundles sent one at a time, then two in flight. */
export interface BulkStep {
  from: number;
  to: number;
  bundleSize: number;
  oneAtATime: { resources: number; ms: number };
  twoInFlight: { resources: number; ms: number };
}

/**
 * Charts the long stay's vital signs `from`…`to - 1` in Bundles of `bundleSize`: the first
 * half of the step's Bundles one at a time (the bulk-load figure), the second half two
 * in flight. A step of fewer than 4 Bundles is sent one at a time only.
 */
export async function loadLongStay(fhirBase: string, token: string, longStay: Hospital['longStay'], from: number, to: number, bundleSize: number): Promise<BulkStep> {
  const bundles: number[][] = [];
  for (let first = from; first < to; first += bundleSize) bundles.push(Array.from({ length: Math.min(bundleSize, to - first) }, (_, k) => first + k));
  const subject = `Patient/${longStay.patientId}`;
  const encounter = `Encounter/${longStay.encounterId}`;
  const send = (ns: number[]) =>
    postTransaction(
      fhirBase,
      token,
      ns.map((n) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource: vitalSign(subject, encounter, n) })),
    );
  const split = bundles.length >= 4 ? Math.ceil(bundles.length / 2) : bundles.length;
  const timed = async (part: number[][], parallel: number) => {
    const t0 = performance.now();
    await inParallel(part, parallel, send);
    return { resources: part.reduce((sum, b) => sum + b.length, 0), ms: performance.now() - t0 };
  };
  const oneAtATime = await timed(bundles.slice(0, split), 1);
  const twoInFlight = await timed(bundles.slice(split), 2);
  return { from, to, bundleSize, oneAtATime, twoInFlight };
}

/** Runs `work` over `items` with at most `limit` at once. */
async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Who asks: the HIS client (no per-patient conditions), or the department's attending or nurse. */
export type ScaleRole = 'HIS' | 'doctor' | 'nurse';

/** The searches the scaling part times, by what they ask for. */
export type ScaleQuery = 'default' | 'sorted' | 'code' | 'everything' | 'accurate' | 'next' | 'broad' | 'broad-newest';

/** What a right answer looks like, from what was seeded. */
export interface AnswerKey {
  pageSize: number;
  total: number;
  /** Why `r` does not belong in the answer, or undefined. */
  foreign: (r: Resource) => string | undefined;
  /** The first entry of a page sorted by `-date` must be the latest vital sign seeded. */
  newest?: string;
  /** `_total=accurate`: the answer must state its total. */
  totalRequired?: boolean;
}

/** The answer key of `query` asked by `role` when the long stay has `size` vital signs. */
export function answerKey(hospital: Hospital, department: string, size: number, query: ScaleQuery, role: ScaleRole): AnswerKey {
  const { patientId } = hospital.longStay;
  const isHeartRate = (r: Resource) => r.resourceType === 'Observation' && !!r.code?.coding?.some((c) => c.code === SEARCHED_CODE);
  const ofPatient = (r: Resource) => {
    if (r.resourceType !== 'Observation') return `a ${r.resourceType} among the Observations`;
    return r.subject?.reference === `Patient/${patientId}` ? undefined : `Observation/${r.id} of ${r.subject?.reference}`;
  };
  switch (query) {
    case 'code':
      return { pageSize: 20, total: withSearchedCode(size), foreign: (r) => ofPatient(r) ?? (isHeartRate(r) ? undefined : `Observation/${r.id} is not a ${SEARCHED_CODE}`) };
    case 'sorted':
      return { pageSize: 20, total: size, foreign: ofPatient, newest: takenAt(size - 1) };
    case 'everything':
      // The Patient, the stay's Encounter and the Observations: the patient's whole compartment.
      return {
        pageSize: 50,
        total: size + 2,
        foreign: (r) => {
          if (r.resourceType === 'Patient') return r.id === patientId ? undefined : `Patient/${r.id}`;
          const subject = r.resourceType === 'Observation' || r.resourceType === 'Encounter' ? r.subject?.reference : undefined;
          return subject === `Patient/${patientId}` ? undefined : `${r.resourceType}/${r.id} outside the compartment`;
        },
      };
    case 'broad':
    case 'broad-newest': {
      if (role === 'HIS') {
        // The HIS sees every patient's heart rates: the long stay's, and one per other inpatient.
        return { pageSize: 20, total: hospital.patients - 1 + withSearchedCode(size), foreign: (r) => (isHeartRate(r) ? undefined : `${r.resourceType}/${r.id} is not a ${SEARCHED_CODE}`) };
      }
      // The doctor sees the department's heart rates only: the long stay's, and one per other patient there.
      const inDepartment = hospital.departmentPatients;
      return {
        pageSize: 20,
        total: inDepartment.size - 1 + withSearchedCode(size),
        foreign: (r) => {
          if (!isHeartRate(r)) return `${r.resourceType}/${r.id} is not a ${SEARCHED_CODE}`;
          const subject = r.resourceType === 'Observation' ? (r.subject?.reference ?? '') : '';
          return inDepartment.has(subject.replace(/^Patient\//, '')) ? undefined : `Observation/${r.id} of ${subject}, outside ${department}`;
        },
      };
    }
    case 'accurate':
      return { pageSize: 20, total: size, foreign: ofPatient, totalRequired: true };
    default:
      return { pageSize: 20, total: size, foreign: ofPatient };
  }
}

/** Why a 2xx page is wrong, or undefined: its size, members, total, sort order, and repeats across pages (`seen`). */
export function wrongAnswer(bundle: Bundle, key: AnswerKey, seen?: Set<string>): string | undefined {
  if (bundle.resourceType !== 'Bundle') return `answered a ${bundle.resourceType}`;
  const entries = (bundle.entry ?? []).filter((e) => e.search?.mode !== 'outcome');
  if (entries.length > key.pageSize) return `${entries.length} entries on a page of ${key.pageSize}`;
  if (bundle.total !== undefined && bundle.total !== key.total) return `total ${bundle.total}, seeded ${key.total}`;
  if (bundle.total === undefined && key.totalRequired) return 'no total though _total=accurate';
  if (entries.length === 0 && key.total > 0) return `no entries though ${key.total} match`;
  for (const e of entries) {
    const why = e.resource ? key.foreign(e.resource) : 'an entry without a resource';
    if (why) return why;
    const id = `${e.resource?.resourceType}/${e.resource?.id}`;
    if (seen?.has(id)) return `${id} on two pages`;
    seen?.add(id);
  }
  if (key.newest) {
    const dates = entries.map((e) => (e.resource?.resourceType === 'Observation' ? (e.resource.effectiveDateTime ?? '') : ''));
    if (Date.parse(dates[0]) !== Date.parse(key.newest)) return `_sort=-date starts at ${dates[0]}, the latest seeded is ${key.newest}`;
    if (dates.some((d, i) => i > 0 && Date.parse(d) > Date.parse(dates[i - 1]))) return '_sort=-date page not in descending date order';
  }
  return undefined;
}

import type { Bundle, Resource } from '@medplum/fhirtypes';
import { admission, heartRate, patient, transaction } from './fixtures.js';

/** Authorization and content headers for every ChartWarden request the benchmark makes. */
export function fhirHeaders(token: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    accept: 'application/fhir+json',
    'content-type': 'application/fhir+json',
  };
}

/** One request with fetch; throws with the response text unless the status is `expect`. */
export async function call<T = Resource>(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  expect: number[],
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!expect.includes(res.status)) {
    throw new Error(`${method} ${url} answered ${res.status}, expected ${expect.join('/')}: ${text.slice(0, 600)}`);
  }
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

export interface SeedPlan {
  patients: number;
  /** Observations of the one target patient (what `Observation?patient=<target>` finds). */
  targetObservations: number;
  /** Observations spread over the other patients. */
  noiseObservations: number;
  bundleSize: number;
  /** Transaction Bundles in flight at once. */
  parallel: number;
  /** The department and the clinician (`Practitioner/<id>`) that see one patient in ten. */
  department: string;
  clinician: string;
}

export interface Seeded {
  patientIds: string[];
  targetPatientId: string;
  /** The 10 % of patients on the clinician's care relationship (the target is one of them). */
  visiblePatientIds: string[];
  observations: number;
  ms: number;
}

/** Seeds over HTTP with transaction Bundles; returns the server-assigned Patient ids in order. */
export async function seed(fhirBase: string, token: string, plan: SeedPlan): Promise<Seeded> {
  const started = Date.now();
  const headers = fhirHeaders(token);
  const post = async (resources: Parameters<typeof transaction>[0]): Promise<string[]> => {
    const { body } = await call<Bundle>('POST', fhirBase, headers, transaction(resources), [200]);
    return (body.entry ?? []).map((e, i) => {
      const id = e.resource?.id ?? /\/([^/]+)\/_history\//.exec(e.response?.location ?? '')?.[1];
      if (!id) throw new Error(`transaction entry ${i} came back without an id: ${JSON.stringify(e).slice(0, 300)}`);
      return id;
    });
  };

  const patientBatches = chunk(
    Array.from({ length: plan.patients }, (_, n) => patient(n)),
    plan.bundleSize,
  );
  const patientIds = (await inParallel(patientBatches, plan.parallel, post)).flat();
  const [targetPatientId, ...others] = patientIds;

  const observations = [
    ...Array.from({ length: plan.targetObservations }, (_, n) => heartRate(targetPatientId, n)),
    ...Array.from({ length: plan.noiseObservations }, (_, n) => heartRate(others[n % others.length], n)),
  ];
  await inParallel(chunk(observations, plan.bundleSize), plan.parallel, post);

  // Care relationships for the policy scenarios: one patient in ten (the target among them) is
  // admitted to the clinician's department with the clinician as participant; the others elsewhere.
  const visiblePatientIds = patientIds.filter((_, i) => i % 10 === 0);
  const admissions = patientIds.map((id, i) => (i % 10 === 0 ? admission(id, plan.department, plan.clinician) : admission(id, 'elsewhere')));
  await inParallel(chunk(admissions, plan.bundleSize), plan.parallel, post);
  return { patientIds, targetPatientId, visiblePatientIds, observations: observations.length, ms: Date.now() - started };
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `work` over `items` with at most `limit` at once; results in input order. */
async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

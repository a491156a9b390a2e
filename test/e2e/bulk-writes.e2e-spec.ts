import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Bundle, BundleEntry, Encounter, Observation, OperationOutcome, Patient, Provenance } from '@medplum/fhirtypes';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Bulk writes (issue #13): a transaction Bundle's creates are written together at its commit,
 * its visits locked once and asked about a seal once (src/store/postgres/first-versions.ts,
 * `WriteScope.lockedEncounters`). What must not change, over real HTTP and PostgreSQL: a Bundle
 * meeting a sealed visit anywhere is refused whole, Bundles raced against a seal
 * commit whole before it or are refused whole, and what a Bundle writes is read back whole.
 */
const run = randomUUID().slice(0, 8);
const DR = `Practitioner/dr-bulk-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };

describe('Bulk writes in transaction Bundles (issue #13, e2e)', () => {
  let server: TestServer;
  let root: string;
  let db: pg.Client;
  let his: string;
  let officer: string;
  let witness: string;

  const fhir = <T = OperationOutcome>(method: string, path: string, body?: unknown): Promise<HttpResult<T>> => httpRequest<T>(`${server.fhirBase}/${path}`, method, { token: his, body });
  const disputes = <T = { id: string; status: string }>(token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${root}/disputes${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const seed = <T extends Patient | Encounter>(resource: T) => seedAs(server.fhirBase, his, resource);
  /** A stay; a finished one is sealed whole (an unfinished visit is a pending line, which new care may still complete, R-41). */
  const stay = (patient: string, status: Encounter['status'] = 'finished') =>
    seed<Encounter>({ resourceType: 'Encounter', status, class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: `Patient/${patient}` }, participant: [{ individual: { reference: DR } }] });
  const vital = (patient: string, encounter: string, n: number): BundleEntry => ({
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }], text: `心率 ${n}` },
      subject: { reference: `Patient/${patient}` },
      encounter: { reference: `Encounter/${encounter}` },
      effectiveDateTime: new Date(Date.UTC(2026, 11, 1, 0, n)).toISOString(),
      valueQuantity: { value: 60 + (n % 40), unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
    } as Observation,
    request: { method: 'POST', url: 'Observation' },
  });
  const transaction = (entry: BundleEntry[]) => fhir<Bundle>('POST', '', { resourceType: 'Bundle', type: 'transaction', entry } satisfies Bundle);
  const countOf = async (encounter: string) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_search_reference WHERE resource_type = 'Observation' AND param = 'encounter' AND target_type = 'Encounter' AND target_id = $1`, [encounter])).rows[0].n;
  /**
   * A case on one visit of the patient; `sealing` shows the inventory, has the witness confirm it
   * and seals, and does it all again when the inventory changed in between (409), as the officer would.
   */
  const sealVisit = async (patient: string, encounter: string) => {
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对护理记录有异议', scope: { kind: 'encounters', encounters: [encounter] } });
    expectStatus(opened, 201);
    const id = opened.body.id;
    const sealing = async () => {
      for (let attempt = 0; ; attempt++) {
        const { digest } = (await disputes<{ digest: string }>(officer, 'GET', `/${id}/inventory`)).body;
        expectStatus(await disputes(witness, 'POST', `/${id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
        const sealed = await disputes(officer, 'POST', `/${id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
        if (sealed.status !== 409 || attempt === 5) return sealed;
        expectOutcome(sealed, 409, 'conflict', 'disputes.inventory-changed');
      }
    };
    return { id, sealing };
  };

  beforeAll(async () => {
    server = await startTestServer();
    root = server.root;
    db = await connectTestDatabase();
    his = await server.token();
    officer = await server.token({ sub: `officer-bulk-${run}`, roles: ['disputes-officer'] });
    witness = await server.token({ sub: `witness-bulk-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-bulk-${run}` });
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it('R-41/R-51: a Bundle charting into an open visit and, at its 41st entry, a sealed one is refused whole (423); nothing of it is written', async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }] });
    const [open, sealed] = [await stay(patient.id, 'in-progress'), await stay(patient.id)];
    const c = await sealVisit(patient.id, sealed.id);
    expectStatus(await c.sealing(), 200);
    const before = { open: await countOf(open.id), sealed: await countOf(sealed.id) };
    const entries = [...Array.from({ length: 40 }, (_, n) => vital(patient.id, open.id, n)), vital(patient.id, sealed.id, 40), vital(patient.id, open.id, 41)];
    const refused = await transaction(entries);
    expect(expectOutcome(refused, 423, 'business-rule', 'disputes.sealed').issue?.[0].details?.text).toContain(`Encounter/${sealed.id}`);
    expect({ open: await countOf(open.id), sealed: await countOf(sealed.id) }).toEqual(before);
    // The same visit's entries alone are written whole, each read back.
    const written = await transaction(entries.filter((_, n) => n !== 40));
    expectStatus(written, 200);
    expect(written.body.entry?.map((e) => e.response?.status)).toEqual(Array(41).fill('201 Created'));
    expect(await countOf(open.id)).toBe(before.open + 41);
    for (const e of written.body.entry ?? []) expect((await fhir<Observation>('GET', `Observation/${e.resource?.id}`)).body.encounter?.reference).toBe(`Encounter/${open.id}`);
  });

  it('R-41: Bundles charting into a visit while it is sealed commit whole before the seal or are refused whole, and every result of the visit is inventoried', async () => {
    for (let round = 0; round < 4; round++) {
      const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `竞态${round}` }] });
      const visit = await stay(patient.id);
      const c = await sealVisit(patient.id, visit.id);
      const charting = Array.from({ length: 3 }, (_, b) => transaction(Array.from({ length: 30 }, (_, n) => vital(patient.id, visit.id, b * 30 + n))));
      const [results, sealed] = await Promise.all([Promise.all(charting), new Promise((r) => setTimeout(r, round * 5)).then(() => c.sealing())]);
      expectStatus(sealed, 200);
      const statuses = results.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 423)).toBe(true);
      // All of a committed Bundle, none of a refused one.
      expect(await countOf(visit.id)).toBe(30 * statuses.filter((s) => s === 200).length);
      const [uninventoried] = (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM fhir_search_reference x WHERE x.resource_type = 'Observation' AND x.param = 'encounter' AND x.target_id = $1
             AND NOT EXISTS (SELECT 1 FROM dispute_item i WHERE i.dispute_id = $2 AND i.resource_type = 'Observation' AND i.resource_id = x.resource_id)`,
          [visit.id, c.id],
        )
      ).rows;
      expect({ round, uninventoried: uninventoried.n }).toEqual({ round, uninventoried: 0 });
      // Once sealed, a Bundle into the visit is refused whole, the visit's count unchanged.
      const after = await countOf(visit.id);
      expectOutcome(await transaction(Array.from({ length: 5 }, (_, n) => vital(patient.id, visit.id, 90 + n))), 423, 'business-rule', 'disputes.sealed');
      expect(await countOf(visit.id)).toBe(after);
    }
  });

  it('R-51: what a Bundle creates is seen by its own later entries, and a signature entry before its record is filed under the record\'s patient', async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '李梅' }] });
    const visit = await stay(patient.id, 'in-progress');
    const entries = Array.from({ length: 25 }, (_, n) => vital(patient.id, visit.id, n));
    const signature: BundleEntry = {
      fullUrl: `urn:uuid:${randomUUID()}`,
      resource: { resourceType: 'Provenance', target: [{ reference: entries[24].fullUrl as string }], recorded: new Date().toISOString(), agent: [{ who: { reference: DR } }] } as Provenance,
      request: { method: 'POST', url: 'Provenance' },
    };
    // GET entries run after the writes (R4 http.html#trules): the search sees the Bundle's own creates.
    const search: BundleEntry = { request: { method: 'GET', url: `Observation?encounter=${visit.id}&_count=50&_total=accurate` } };
    const res = await transaction([signature, ...entries, search]);
    expectStatus(res, 200);
    const found = res.body.entry?.[26].resource as Bundle;
    expect(found.total).toBe(25);
    expect(found.entry?.map((e) => e.resource?.id).sort()).toEqual(res.body.entry?.slice(1, 26).map((e) => e.resource?.id).sort());
    const provenance = res.body.entry?.[0].resource as Provenance;
    expect(provenance.target?.[0].reference).toBe(`Observation/${res.body.entry?.[25].resource?.id}`);
    const [row] = (await db.query<{ owner: string | null }>(`SELECT owner FROM fhir_resource WHERE resource_type = 'Provenance' AND id = $1`, [provenance.id])).rows;
    expect(row.owner).toBe(patient.id);
    // Each create has its audit entry, in the Bundle's request.
    const audited = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_entry WHERE request_id = $1 AND subtype = 'create'`, [res.headers.get('x-request-id')])).rows[0].n;
    expect(audited).toBe(26);
  });
});

import { randomUUID } from 'node:crypto';
import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { Bundle, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import { Clock } from '../../src/common/clock.js';
import type { FhirContext } from '../../src/fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../../src/fhir/write-chain.port.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { fhirApi, jsonApi, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * The write chain a hospital extends (issue #15, decision 0013), over real HTTP and PostgreSQL:
 * `ChartWardenModule.forRoot({ writeGuards })` adds the hospital's own checks, run before every
 * write after ChartWarden's (the legal hold R-41, archive R-15, edit window R-11, reason R-12,
 * copy-paste R-16). A refusal is the hospital's own answer; nothing is written (no version, no
 * ledger entry, no audit entry of a write) and the refused request is in the audit trail
 * . A guard given as a class is built by Nest's injector and may inject ChartWarden's
 * exports (here the `Clock`, which the test moves).
 */
const run = randomUUID().slice(0, 8);
const LAB = `urn:chartwarden-e2e:write-chain:${run}`;
const IMPORT_SOURCE = `urn:chartwarden-e2e:lab-import:${run}`;
const DEPT = `cw-chain-${run}`;
const DR = `Practitioner/dr-chain-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const BEIJING_MS = 8 * 3_600_000;

/** The hospital's plausibility rule (its rule H-7): a haemoglobin above 500 g/L is a typing error, never a result. */
class ImplausibleValueGuard extends WriteGuard {
  readonly seen: string[] = [];

  constructor(private readonly limit: number) {
    super();
  }

  async check(_ctx: FhirContext, { resource }: WriteAttempt): Promise<void> {
    const value = resource.resourceType === 'Observation' ? (resource as Observation).valueQuantity?.value : undefined;
    if (!isLabResult(resource) || value === undefined) return;
    this.seen.push(`${resource.id ?? 'new'}:${value}`);
    if (value > this.limit) {
      throw new HttpException(`Haemoglobin ${value} g/L is above the plausible ${this.limit} g/L: re-enter the result (hospital rule H-7)`, HttpStatus.UNPROCESSABLE_ENTITY);
    }
  }
}

/** The hospital's overnight lab import (its rule H-9) is accepted only between 01:00 and 05:00 Beijing time, by ChartWarden's clock. */
@Injectable()
class ImportWindowGuard extends WriteGuard {
  constructor(private readonly clock: Clock) {
    super();
  }

  async check(_ctx: FhirContext, { resource }: WriteAttempt): Promise<void> {
    if (resource.meta?.source !== IMPORT_SOURCE) return;
    const hour = new Date(this.clock.now().getTime() + BEIJING_MS).getUTCHours();
    if (hour < 1 || hour >= 5) {
      throw new HttpException(`The lab import is accepted from 01:00 to 05:00 Beijing time; it is ${hour}:xx now (hospital rule H-9)`, HttpStatus.FORBIDDEN);
    }
  }
}

const isLabResult = (r: Resource) => r.resourceType === 'Observation' && (r as Observation).code?.coding?.some((c) => c.system === LAB) === true;

describe('The write chain a hospital extends (e2e, real HTTP + PostgreSQL)', () => {
  const clock = new TestClock();
  const implausible = new ImplausibleValueGuard(500);
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let officer: string;
  let witness: string;

  const fhir = fhirApi(() => server.fhirBase);
  const disputes = jsonApi<{ id: string; digest: string }>(() => `${server.root}/disputes`);
  const seed = <T extends Resource>(resource: T) => seedAs(server.fhirBase, his, resource);
  const lab = (patient: string, value: number, extra: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LAB, code: 'hb' }], text: '血红蛋白' },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value, unit: 'g/L' },
    ...extra,
  });
  const auditOf = async (res: HttpResult<unknown>) =>
    (
      await db.query<{ subtype: string; outcome: number; entity_type: string | null; content: string }>(
        'SELECT subtype, outcome, entity_type, content FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq',
        [res.headers.get('x-request-id')],
      )
    ).rows.map((r) => ({ subtype: r.subtype, outcome: r.outcome, type: r.entity_type, status: (JSON.parse(r.content) as { status?: number }).status }));
  const labsOf = async (patient: string) => (await fhir<Bundle>(his, 'GET', `Observation?subject=Patient/${patient}&code=${LAB}|hb`)).body.total;

  beforeAll(async () => {
    server = await startTestServer({ clock, writeGuards: [implausible, ImportWindowGuard] });
    db = await connectTestDatabase();
    his = await server.token();
    officer = await server.token({ sub: `officer-chain-${run}`, roles: ['disputes-officer'] });
    witness = await server.token({ sub: `witness-chain-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-chain-${run}` });
  });
  afterAll(async () => {
    await closeAll(db, server);
  });

  it("the hospital's guard refuses a create and an update with its own status and words: nothing is written, the refusal is in the trail", async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `张三-${run}` }] });
    const created = await fhir<Observation & { id: string }>(his, 'POST', 'Observation', lab(patient.id, 132));
    expectStatus(created, 201);

    const refusedCreate = await fhir<OperationOutcome>(his, 'POST', 'Observation', lab(patient.id, 1320));
    expectStatus(refusedCreate, 422);
    expect(refusedCreate.body.issue?.[0]).toMatchObject({ severity: 'error', diagnostics: expect.stringContaining('hospital rule H-7') });
    expect(await labsOf(patient.id)).toBe(1);
    expect(await auditOf(refusedCreate)).toEqual([{ subtype: 'create', outcome: 4, type: 'Observation', status: 422 }]);

    const refusedUpdate = await fhir<OperationOutcome>(his, 'PUT', `Observation/${created.body.id}`, { ...created.body, meta: undefined, valueQuantity: { value: 1320, unit: 'g/L' } });
    expectStatus(refusedUpdate, 422);
    expect(refusedUpdate.body.issue?.[0].diagnostics).toContain('1320 g/L is above the plausible 500 g/L');
    const now = await fhir<Observation>(his, 'GET', `Observation/${created.body.id}`);
    expect(now.body).toMatchObject({ meta: { versionId: '1' }, valueQuantity: { value: 132 } });
    expect(await auditOf(refusedUpdate)).toEqual([{ subtype: 'update', outcome: 4, type: 'Observation', status: 422 }]);
    // Guards see every write: the hospital's saw the refused ones too, before the store did.
    expect(implausible.seen).toEqual(expect.arrayContaining(['new:132', 'new:1320', `${created.body.id}:1320`]));

    // A plausible correction passes the same chain and is written once, with its audit entry.
    const corrected = await fhir<Observation>(his, 'PUT', `Observation/${created.body.id}`, { ...created.body, meta: undefined, valueQuantity: { value: 131, unit: 'g/L' } });
    expectStatus(corrected, 200);
    expect(corrected.body.meta?.versionId).toBe('2');
    expect(await auditOf(corrected)).toEqual([{ subtype: 'update', outcome: 0, type: 'Observation', status: 200 }]);
  });

  it('a conditional create that matches a stored record answers it as before, though the guard would refuse creating it; one that matches nothing is guarded', async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `孙七-${run}` }] });
    const identifier = [{ system: `${LAB}:order`, value: `order-${run}` }];
    const stored = await seed(lab(patient.id, 132, { identifier }));
    const ifNoneExist = { 'if-none-exist': `identifier=${LAB}:order|order-${run}` };
    const matched = await fhir<Observation>(his, 'POST', 'Observation', lab(patient.id, 1320, { identifier }), ifNoneExist);
    expectStatus(matched, 200);
    expect(matched.body).toMatchObject({ id: stored.id, meta: { versionId: '1' }, valueQuantity: { value: 132 } });
    expect(await auditOf(matched)).toEqual([{ subtype: 'create', outcome: 0, type: 'Observation', status: 200 }]);

    const unmatched = await fhir<OperationOutcome>(his, 'POST', 'Observation', lab(patient.id, 1320, { identifier: [{ ...identifier[0], value: `other-${run}` }] }), {
      'if-none-exist': `identifier=${LAB}:order|other-${run}`,
    });
    expectStatus(unmatched, 422);
    expect(await labsOf(patient.id)).toBe(1);
  });

  it("a Bundle transaction with one refused entry writes none of its entries, and names the entry the hospital's guard refused", async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `李四-${run}` }] });
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [132, 9999].map((value) => ({ resource: lab(patient.id, value), request: { method: 'POST', url: 'Observation' } })),
    };
    const res = await fhir<OperationOutcome>(his, 'POST', '', bundle);
    expectStatus(res, 422);
    expect(res.body.issue?.[0].expression?.[0]).toBe('Bundle.entry[1]');
    expect(await labsOf(patient.id)).toBe(0);
  });

  it('a guard given as a class is built by Nest and injects ChartWarden\'s Clock: the import window follows the clock the server runs on', async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `王五-${run}` }] });
    const imported = (value: number) => lab(patient.id, value, { meta: { source: IMPORT_SOURCE } });
    // Noon in Beijing: outside the window.
    const noon = Math.ceil((clock.now().getTime() + BEIJING_MS) / 86_400_000) * 86_400_000 - BEIJING_MS + 12 * 3_600_000;
    clock.advanceTo(noon);
    const refused = await fhir<OperationOutcome>(his, 'POST', 'Observation', imported(120));
    expectStatus(refused, 403);
    expect(refused.body.issue?.[0].diagnostics).toContain('hospital rule H-9');
    expect(await labsOf(patient.id)).toBe(0);
    // 02:00 the next night: inside it.
    clock.advance(14 * 3_600_000);
    expectStatus(await fhir(his, 'POST', 'Observation', imported(120)), 201);
    expect(await labsOf(patient.id)).toBe(1);
  });

  it("ChartWarden's guards run first: a write to a sealed record is refused by the legal hold (423) though the hospital's guard would refuse it too", async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: `赵六-${run}` }] });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const result = await seed(lab(patient.id, 132, { encounter: { reference: `Encounter/${encounter.id}` } }));
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient.id}`, reason: '患方对检验结果有异议', scope: { kind: 'whole-record' } });
    expectStatus(opened, 201);
    const { digest } = (await disputes(officer, 'GET', `/${opened.body.id}/inventory`)).body;
    expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
    expectStatus(await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), 200);

    const seen = implausible.seen.length;
    const res = await fhir(his, 'PUT', `Observation/${result.id}`, { ...result, meta: undefined, valueQuantity: { value: 1320, unit: 'g/L' } });
    expect(expectOutcome(res, 423, 'business-rule', 'disputes.sealed').issue?.[0].details?.text).toContain(opened.body.id);
    // The hold refused first: the hospital's guard was never asked.
    expect(implausible.seen).toHaveLength(seen);
    expect((await fhir<Observation>(his, 'GET', `Observation/${result.id}`)).body.meta?.versionId).toBe('1');
    // A new implausible result for the sealed visit: the hold again, before the hospital's rule.
    expectOutcome(await fhir(his, 'POST', 'Observation', lab(patient.id, 9999, { encounter: { reference: `Encounter/${encounter.id}` } })), 423, 'business-rule', 'disputes.sealed');
    expect(implausible.seen).toHaveLength(seen);
  });
});

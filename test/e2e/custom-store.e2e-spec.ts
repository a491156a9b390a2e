import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type pg from 'pg';
import { Clock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import type { UnitOfWork } from '../../src/database/unit-of-work.js';
import { FhirStore, type StoredJson } from '../../src/index.js';
import type { AccessCondition, AccessFactOptions } from '../../src/store/access-facts.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { fhirApi } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * A store of the host's own behind ChartWarden (issue #15, decision 0013):
 * `forRoot({ store: { kind: 'custom', store } })` with a `FhirStore` class Nest's injector
 * builds. Every interaction reaches that store, and every rule still applies on top of it: the
 * policy decides, the write chain writes through its transaction and records the audit
 * entry with the version. The adapter here counts what reaches it and delegates to
 * the embedded store, as an adapter for a caching layer or a second data centre would.
 */
const run = randomUUID().slice(0, 8);

/** What reached the host's store, per interaction. */
const reached = { transactions: 0, checks: 0 };

@Injectable()
class CountingStore extends PostgresFhirStore {
  constructor(db: ChartWardenDatabase, registry: SearchParameterRegistry, compartment: PatientCompartment, clock: Clock) {
    super(db, registry, compartment, clock);
  }

  override transaction<T>(work: (store: FhirStore, unit: UnitOfWork) => Promise<T>): Promise<T> {
    reached.transactions++;
    return super.transaction(work);
  }

  override check(
    resourceType: string,
    id: string,
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
    withContent: boolean,
  ): Promise<{ stored?: StoredJson; patient?: string; firstMatch: number }> {
    reached.checks++;
    return super.check(resourceType, id, conditions, options, withContent);
  }
}

describe("A host's own FhirStore behind ChartWarden (e2e, real HTTP + PostgreSQL)", () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let stranger: string;
  const fhir = fhirApi(() => server.fhirBase);

  beforeAll(async () => {
    server = await startTestServer({ store: { kind: 'custom', store: CountingStore } });
    db = await connectTestDatabase();
    his = await server.token();
    stranger = await server.token({ sub: `dr-stranger-${run}`, roles: ['attending'], department: `dept-elsewhere-${run}`, fhirUser: `Practitioner/dr-stranger-${run}` });
  });

  afterAll(() => closeAll(db, server));

  it('R-51: a create goes through the custom store\'s transaction, with its audit entry in the same commit', async () => {
    const before = reached.transactions;
    const requestId = `custom-store-create-${run}`;
    const created = await fhir<Patient>(his, 'POST', 'Patient', { resourceType: 'Patient', name: [{ text: `孙七-${run}` }] }, { 'x-request-id': requestId });
    expect(created.status).toBe(201);
    expect(reached.transactions).toBe(before + 1);
    const { rows } = await db.query<{ subtype: string; outcome: number; entity_id: string }>(
      'SELECT subtype, outcome, entity_id FROM audit_entry WHERE request_id = $1',
      [requestId],
    );
    expect(rows).toEqual([{ subtype: 'create', outcome: 0, entity_id: created.body.id }]);
    // Read back through the same store: the version it wrote.
    const read = await fhir<Patient>(his, 'GET', `Patient/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.meta?.versionId).toBe('1');
  });

  it('R-01: a read the policy refuses is refused on top of the custom store, which was asked (one check), and nothing is returned', async () => {
    const patient = await fhir<Patient>(his, 'POST', 'Patient', { resourceType: 'Patient', name: [{ text: `周八-${run}` }] });
    const observation = await fhir<Observation>(his, 'POST', 'Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: '体温' },
      subject: { reference: `Patient/${patient.body.id}` },
      valueQuantity: { value: 37.2, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' },
    });
    expect(observation.status).toBe(201);
    const before = reached.checks;
    const refused = await fhir<OperationOutcome>(stranger, 'GET', `Observation/${observation.body.id}`);
    expect([403, 404]).toContain(refused.status);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(refused.body)).not.toContain('37.2');
    expect(reached.checks).toBe(before + 1);
  });
});

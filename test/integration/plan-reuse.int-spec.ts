import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Encounter, Observation, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import type { Actor } from '../../src/identity/actor.js';
import { CONFIDENTIALITY_SYSTEM } from '../../src/store/access-facts.js';
import { broadPageSql } from '../../src/store/postgres/broad-page-sql.js';
import { atInstant, searchSql, type Sql } from '../../src/store/postgres/search-sql.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { urlOf } from '../support/database-admin.js';
import { defaultPolicyService, openUnanalysedStore, type UnanalysedStore } from '../support/unanalysed-store.js';

/*
 * Issue #13: the statements that carry a clinician's policy are prepared once per connection
 * (`Queryable.query`), and PostgreSQL may keep one plan for every execution (a generic plan)
 * instead of planning each again: it does when the kept plan is costed like the ones made for
 * the values. A list bound as an array and read as rows (`unnest($n)`) is costed at 10 rows in a
 * kept plan, whatever it holds: the set of a patient's labelled records and the empty
 * lists of grants and break-the-glass made a doctor's and a nurse's statements cost
 * 3–5× more kept than made, so every request planned them again, 1–4 ms each. These tests run
 * each statement as the server does, prepared, and check that PostgreSQL keeps its plan.
 */

const registry = SearchParameterRegistry.fromProfiles();
const LOINC = 'http://loinc.org';

/** Executions of a prepared statement before PostgreSQL may choose a generic plan (it makes 5 custom ones first), and a few more. */
const EXECUTIONS = 8;

describe('A clinician\'s search statements keep their plan across executions (issue #13)', () => {
  let opened: UnanalysedStore;
  let client: pg.Client;
  const service = defaultPolicyService();

  beforeAll(async () => {
    opened = await openUnanalysedStore('plan_reuse', registry);
    const database = (await opened.db.query<{ name: string }>('SELECT current_database() AS name'))[0].name;
    client = new pg.Client({ connectionString: urlOf(database) });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await opened?.close();
  });

  /** An inpatient of a ward with heart rates, one labelled R, and the ward's doctor and nurse. */
  async function ward() {
    const tag = randomUUID().slice(0, 8);
    const dept = `${tag}-ward`;
    const patient = await opened.put<Patient>({ resourceType: 'Patient' });
    const stay = await opened.put<Encounter>({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${dept}` },
    });
    for (let n = 0; n < 30; n++) {
      await opened.put<Observation>({
        resourceType: 'Observation',
        status: 'final',
        ...(n % 10 === 3 ? { meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }] } } : {}),
        code: { coding: [{ system: LOINC, code: '8867-4' }] },
        subject: { reference: `Patient/${patient.id}` },
        encounter: { reference: `Encounter/${stay.id}` },
        effectiveDateTime: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString(),
      });
    }
    const staff = {
      doctor: { id: `${tag}-dr`, practitioner: `Practitioner/${tag}-dr`, roles: ['attending'], department: dept, scopes: [] },
      nurse: { id: `${tag}-rn`, practitioner: `Practitioner/${tag}-rn`, roles: ['nurse'], department: dept, scopes: [] },
    } satisfies Record<string, Actor>;
    return { patient: patient.id, staff };
  }

  /** Runs `statement` prepared, `EXECUTIONS` times on one connection; the plans PostgreSQL made, and the rows of the last run. */
  async function prepared(name: string, statement: Sql): Promise<{ generic: number; custom: number; rows: number }> {
    let rows = 0;
    for (let i = 0; i < EXECUTIONS; i++) {
      rows = (await client.query({ name, text: statement.text, values: atInstant(statement.params, new Date()) as unknown[] })).rowCount ?? 0;
    }
    const { rows: plans } = await client.query<{ generic: string; custom: string }>('SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE name = $1', [name]);
    return { generic: Number(plans[0].generic), custom: Number(plans[0].custom), rows };
  }

  it('R-02: a HIS page is planned once, then reused, and a later page too (OFFSET bound only past the first page)', async () => {
    const { patient } = await ward();
    const his: Actor = { id: 'his-plan', practitioner: 'Practitioner/his-plan', roles: ['his-system'], scopes: [] };
    const access = await service.filter(his, 'search', ['Observation']);
    const first = searchSql({ ...opened.observations(`patient=Patient/${patient}`), access });
    const second = searchSql({ ...opened.observations(`patient=Patient/${patient}`), access, offset: 20 });
    // The HIS sees all 30 heart rates (R-R included): 21 rows of the first page (one more tells of a next), 10 of the second.
    const a = await prepared('his_page_1', first.page);
    const b = await prepared('his_page_2', second.page);
    expect({ first: a.rows, second: b.rows, firstKept: a.generic > 0 }).toEqual({ first: 21, second: 10, firstKept: true });
  }, 120_000);

  it('R-04/R-05/R-07: a doctor\'s and a nurse\'s page, count and search across patients are planned once, then reused', async () => {
    const { patient, staff } = await ward();
    const kept: Record<string, boolean> = {};
    for (const [name, who] of Object.entries(staff)) {
      const access = await service.filter(who, 'search', ['Observation']);
      const statements = searchSql({ ...opened.observations(`patient=Patient/${patient}`), access });
      const broad = broadPageSql({ ...opened.observations(`code=${LOINC}|8867-4`), access });
      expect(broad).toBeDefined();
      // The statements did their work: the page and the count see the 27 heart rates without R, the broad page a page of them.
      const page = await prepared(`${name}_page`, statements.page);
      const count = await prepared(`${name}_count`, statements.countUpTo(500));
      const across = await prepared(`${name}_broad`, broad!);
      expect({ name, page: page.rows, count: count.rows, across: across.rows }).toEqual({ name, page: 21, count: 1, across: 21 });
      kept[`${name} page`] = page.generic > 0;
      kept[`${name} count`] = count.generic > 0;
      kept[`${name} across patients`] = across.generic > 0;
    }
    expect(kept).toEqual({
      'doctor page': true,
      'doctor count': true,
      'doctor across patients': true,
      'nurse page': true,
      'nurse count': true,
      'nurse across patients': true,
    });
  }, 120_000);
});

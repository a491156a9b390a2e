import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Encounter, Observation, Patient } from '@medplum/fhirtypes';
import type { Actor } from '../../src/identity/actor.js';
import { searchSql } from '../../src/store/postgres/search-sql.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { defaultPolicyService, openUnanalysedStore, type UnanalysedStore } from '../support/unanalysed-store.js';

/*
 * Issue #13, R-03: a doctor's or a nurse's request about one patient asks once whether the patient
 * is theirs: an open visit in their department, or a visit or care team they take part in. That
 * question must cost the patient's few visits, not the department's history or the doctor's: joined
 * to the department's rows, PostgreSQL read every visit the department ever had (915 at the scale
 * bench's 10,000 patients, about 1 ms on every such request), and joined to the doctor's rows every
 * visit they ever took part in. A row's own visit (the nurse's care window) is a probe of the row's
 * own references; on a new database's small tables PostgreSQL read it from every reference to any
 * visit. These tests give a ward and its doctor many other visits, then check what the one-patient
 * statements read, without statistics and after ANALYZE.
 */

const registry = SearchParameterRegistry.fromProfiles();

/** Other patients' visits in the ward, each with the doctor taking part: what the question must not read. */
const OTHER_VISITS = 60;

/** Index entries by target a one-patient statement may read: the patient's visit, once for each rule that asks, kept or filtered out. */
const FEW = 6;

describe('Whether one patient is a clinician\'s is asked of the patient\'s own visits (issue #13, R-03)', () => {
  let opened: UnanalysedStore;
  const service = defaultPolicyService();

  beforeAll(async () => {
    opened = await openUnanalysedStore('patient_level_probe', registry);
  });
  afterAll(() => opened?.close());

  it('reads neither the department\'s visits nor the doctor\'s, for the doctor and the nurse, and still sees the patient', async () => {
    const tag = randomUUID().slice(0, 8);
    const ward = `${tag}-ward`;
    const staff = {
      doctor: { id: `${tag}-dr`, practitioner: `Practitioner/${tag}-dr`, roles: ['attending'], department: ward, scopes: [] },
      nurse: { id: `${tag}-rn`, practitioner: `Practitioner/${tag}-rn`, roles: ['nurse'], department: ward, scopes: [] },
    } satisfies Record<string, Actor>;
    const stay = async (patient: string) =>
      opened.put<Encounter>({
        resourceType: 'Encounter',
        status: 'in-progress',
        class: { code: 'IMP' },
        subject: { reference: `Patient/${patient}` },
        serviceProvider: { reference: `Organization/${ward}` },
        participant: [{ individual: { reference: staff.doctor.practitioner } }],
      });
    for (let n = 0; n < OTHER_VISITS; n += 20) {
      await Promise.all(Array.from({ length: 20 }, async () => stay((await opened.put<Patient>({ resourceType: 'Patient' })).id)));
    }
    const x = (await opened.put<Patient>({ resourceType: 'Patient' })).id;
    const visit = await stay(x);
    for (let n = 0; n < 5; n++) {
      await opened.put<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'HR' }, subject: { reference: `Patient/${x}` }, encounter: { reference: `Encounter/${visit.id}` } });
    }

    const reads: Record<string, { department: number; byTarget: number }> = {};
    for (const analysed of [false, true]) {
      if (analysed) await opened.analyse();
      for (const [name, who] of Object.entries(staff)) {
        const access = await service.filter(who, 'search', ['Observation']);
        const statements = searchSql({ ...opened.observations(`patient=Patient/${x}`), access });
        for (const [shape, statement] of Object.entries({ page: statements.page, count: statements.countUpTo(500) })) {
          const nodes = await opened.plan(statement);
          // Index entries read, kept or filtered out, over every loop.
          const read = (index: string): number =>
            nodes.filter((n) => n['Index Name'] === index).reduce((sum, n) => sum + n['Actual Loops'] * (n['Actual Rows'] + ((n as { 'Rows Removed by Filter'?: number })['Rows Removed by Filter'] ?? 0)), 0);
          reads[`${analysed ? 'analysed' : 'fresh'} ${name} ${shape}`] = { department: read('ix_fhir_search_reference_department'), byTarget: read('ix_fhir_search_reference_target') };
        }
        // The question still has its answer: the patient's five heart rates are theirs to see (the page holds them, the count counts them).
        const page = await opened.store.search({ ...opened.observations(`patient=Patient/${x}`), access });
        expect({ analysed, name, seen: page.matches.length, total: page.total }).toEqual({ analysed, name, seen: 5, total: 5 });
      }
    }
    // The department's visits: none. By target: a few (`FEW`), the patient's visit once for each rule that asks; never
    // the doctor's 61 visits, nor, for each row, every reference to a visit (the row's own visit is a probe of its own rows).
    expect(Object.entries(reads).filter(([, r]) => r.department > 0 || r.byTarget > FEW)).toEqual([]);
    expect(Object.keys(reads)).toHaveLength(8);
  }, 120_000);
});

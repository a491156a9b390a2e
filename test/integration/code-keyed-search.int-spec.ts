import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import type { Actor } from '../../src/identity/actor.js';
import { CONFIDENTIALITY_SYSTEM, type AccessFacts } from '../../src/store/access-facts.js';
import { codeKeyedSql, KEYED_UP_TO } from '../../src/store/postgres/keyed-page-sql.js';
import { atInstant } from '../../src/store/postgres/search-sql.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { keyOf } from '../support/fhir-builders.js';
import { singleFacts } from '../support/single-facts.js';
import { defaultPolicyService, openUnanalysedStore, type UnanalysedStore } from '../support/unanalysed-store.js';

/*
 * Issue #13: a patient's search filtered by a code is read from the patient's index rows of that
 * code (`codeKeyedSql`): the page, when the patient has at most KEYED_UP_TO of them, and the
 * count always. These tests hold it to what single decisions allow, for the default policy's
 * roles: the same resources in the order of the search without a policy, every page's total,
 * a resource matching twice read once, a code rare and a code common in the record (the page
 * then walks the record, the count still reads the code's rows), labelled records left out.
 * Then its plan, on a database without statistics and after ANALYZE.
 */

const registry = SearchParameterRegistry.fromProfiles();
const LOINC = 'http://loinc.org';
const LOCAL = 'urn:test:local';

describe('A patient\'s search by a code, read from the patient\'s rows of that code (issue #13)', () => {
  let opened: UnanalysedStore;
  let store: PostgresFhirStore;
  const service = defaultPolicyService();

  beforeAll(async () => {
    opened = await openUnanalysedStore('code_keyed', registry);
    ({ store } = opened);
  });
  afterAll(() => opened?.close());

  const request = (query: string) => opened.observations(query);
  const key = keyOf;
  const put = <T extends Resource>(r: T) => opened.put(r);

  /**
   * A ward's inpatient: `common` heart rates, 1 in 9 labelled R (hidden from the ward's staff,
   * R-07); `rare` temperatures; and records that match twice (heart rate under two systems and
   * as both codes asked for), plus another patient's heart rates that must never appear.
   */
  async function ward(common: number, rare: number) {
    const tag = randomUUID().slice(0, 8);
    const dept = `${tag}-ward`;
    const x = (await put<Patient>({ resourceType: 'Patient', name: [{ family: 'Long' }] })).id;
    const y = (await put<Patient>({ resourceType: 'Patient', name: [{ family: 'Other' }] })).id;
    const stay = await put<Encounter>({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { code: 'IMP' },
      subject: { reference: `Patient/${x}` },
      serviceProvider: { reference: `Organization/${dept}` },
      participant: [{ individual: { reference: `Practitioner/${tag}-dr` } }],
    });
    const obs = (subject: string, codes: { system: string; code: string }[], n: number, restricted = false): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      ...(restricted ? { meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }] } } : {}),
      code: { coding: codes },
      subject: { reference: subject },
      encounter: { reference: `Encounter/${stay.id}` },
      effectiveDateTime: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString(),
    });
    for (let n = 0; n < common; n += 25) {
      await Promise.all(Array.from({ length: Math.min(25, common - n) }, (_, k) => put(obs(`Patient/${x}`, [{ system: LOINC, code: '8867-4' }], n + k, (n + k) % 9 === 4))));
    }
    for (let n = 0; n < rare; n++) await put(obs(`Patient/${x}`, [{ system: LOINC, code: '8310-5' }], n));
    // Matching twice: a heart rate under two systems; a local heart-rate code beside a temperature.
    await put(obs(`Patient/${x}`, [{ system: LOINC, code: '8867-4' }, { system: LOCAL, code: '8867-4' }], 1));
    await put(obs(`Patient/${x}`, [{ system: LOCAL, code: '8867-4' }, { system: LOINC, code: '8310-5' }], 2));
    for (let n = 0; n < 5; n++) await put(obs(`Patient/${y}`, [{ system: LOINC, code: '8867-4' }], n));
    const staff = {
      doctor: { id: `${tag}-dr`, practitioner: `Practitioner/${tag}-dr`, roles: ['attending'], department: `${tag}-elsewhere`, scopes: [] },
      nurse: { id: `${tag}-rn`, practitioner: `Practitioner/${tag}-rn`, roles: ['nurse'], department: dept, scopes: [] },
      his: { id: `${tag}-his`, practitioner: `Practitioner/${tag}-his`, roles: ['his-system'], scopes: [] },
      stranger: { id: `${tag}-far`, practitioner: `Practitioner/${tag}-far`, roles: ['attending'], department: `${tag}-elsewhere`, scopes: [] },
    } satisfies Record<string, Actor>;
    return { x, staff };
  }

  /** What single decisions allow of the search without a policy, in its order; then every page under the policy against it. */
  async function expectPagesAsSingleReads(factsOf: (r: Resource) => Promise<AccessFacts>, who: Actor, query: string, count: number): Promise<string[]> {
    const everyMatch = (await store.search({ ...request(query), count: 1000 })).matches;
    const allowed: string[] = [];
    for (const r of everyMatch) {
      if ((await service.decide(who, 'search', await factsOf(r))).allowed) allowed.push(key(r));
    }
    const access = await service.filter(who, 'search', ['Observation']);
    expect(codeKeyedSql({ ...request(query), access })).toBeDefined();
    const collected: string[] = [];
    for (let offset = 0; offset <= allowed.length; offset += count) {
      const page = await store.search({ ...request(query), count, offset, access });
      // `estimate`: exact up to 500, or on the page that reaches the end.
      const size = Math.min(count, allowed.length - offset);
      const expected = { total: allowed.length <= 500 || (size > 0 && offset + count >= allowed.length) ? allowed.length : undefined, size };
      expect({ query, offset, total: page.total, size: page.matches.length }).toEqual({ query, offset, ...expected });
      const accurate = await store.search({ ...request(`${query}&_total=accurate`), count, offset, access });
      expect({ query, offset, accurate: accurate.total }).toEqual({ query, offset, accurate: allowed.length });
      collected.push(...page.matches.map(key));
    }
    expect({ query, collected }).toEqual({ query, collected: allowed });
    return allowed;
  }

  it('R-03/R-07: a code rare in the record and a code common in it (past KEYED_UP_TO) page and count exactly what single reads allow, each record once', async () => {
    const { x, staff } = await ward(KEYED_UP_TO + 40, 30);
    // 540 heart rates (60 of them R: hidden from the ward's staff) and 30 temperatures, then the two that match twice:
    // 542 heart rates whatever the system (543 rows: more than KEYED_UP_TO, the page walks the record); 31 LOINC
    // temperatures; 32 local heart rates or LOINC temperatures (34 rows).
    const seen: Record<string, number> = {};
    const factsOf = singleFacts(store);
    for (const [name, who] of Object.entries(staff)) {
      seen[`${name} rare`] = (await expectPagesAsSingleReads(factsOf, who, `patient=${x}&code=${LOINC}|8310-5`, 7)).length;
      seen[`${name} either`] = (await expectPagesAsSingleReads(factsOf, who, `patient=${x}&code=${LOCAL}|8867-4,${LOINC}|8310-5&_sort=-date`, 6)).length;
      if (name !== 'stranger') seen[`${name} common`] = (await expectPagesAsSingleReads(factsOf, who, `patient=${x}&code=8867-4`, 200)).length;
    }
    expect(seen).toEqual({
      'doctor rare': 31,
      'doctor either': 32,
      'doctor common': 482,
      'nurse rare': 31,
      'nurse either': 32,
      'nurse common': 482,
      'his rare': 31,
      'his either': 32,
      'his common': 542,
      'stranger rare': 0,
      'stranger either': 0,
    });
    // Which plan answers is chosen by counting the patient's rows of the code: behind the patient gate, so a caller with no
    // way to the patient counts none (the plan and its timing say nothing of the record), the ward's staff all 543.
    const counted = async (who: Actor) => {
      const keyed = codeKeyedSql({ ...request(`patient=${x}&code=8867-4`), access: await service.filter(who, 'search', ['Observation']) });
      const statement = keyed!.matchesUpTo(KEYED_UP_TO);
      return (await opened.db.query<{ n: number }>(statement.text, atInstant(statement.params, new Date())))[0].n;
    };
    expect({ stranger: await counted(staff.stranger), nurse: await counted(staff.nurse) }).toEqual({ stranger: 0, nurse: KEYED_UP_TO + 1 });
  }, 240_000);

  it('reads the patient\'s rows of the code from the lookup index, each resource by its primary key, without statistics and after ANALYZE', async () => {
    const { x, staff } = await ward(60, 3);
    // Other patients' heart rates (about 6,000 token rows), so that the tables are not a few pages, where every
    // plan reads about one page and PostgreSQL may rightly scan a table whole.
    for (let n = 0; n < 1200; n += 40) {
      const others = await Promise.all(Array.from({ length: 40 }, () => put<Patient>({ resourceType: 'Patient' })));
      await Promise.all(
        others.map((o, k) =>
          put<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: k % 2 ? '8867-4' : '8310-5' }] }, subject: { reference: `Patient/${o.id}` } }),
        ),
      );
    }
    for (const analysed of [false, true]) {
      if (analysed) await opened.analyse();
      const keyed = codeKeyedSql({ ...request(`patient=${x}&code=${LOINC}|8867-4`), access: await service.filter(staff.nurse, 'search', ['Observation']) })!;
      // The page reads each resource by its primary key, once per driving row; the count judges the token rows themselves.
      for (const [statement, resourceLoops] of [[keyed.page, [61]], [keyed.countUpTo(500), []]] as const) {
        const nodes = await opened.plan(statement);
        // The driving rows: one scan of the lookup index (plain, or as a bitmap once analysed) by code and owner: x's
        // 63 heart-rate rows, of which 61 are LOINC's (60, and one of those that match twice); nothing else of the index.
        const driver = nodes.filter((n) => n['Index Name'] === 'ix_fhir_search_token_lookup' && n['Actual Rows'] >= 61);
        expect({ analysed, driver: driver.map((n) => [n['Node Type'], [61, 63].includes(n['Actual Rows']), n['Actual Loops']]) }).toEqual({
          analysed,
          driver: [[expect.stringMatching(/^(Index Scan|Bitmap Index Scan)$/), true, 1]],
        });
        // Never the patient's whole record.
        expect(nodes.some((n) => n['Index Name'] === 'ix_fhir_resource_owner')).toBe(false);
        expect(nodes.filter((n) => n['Index Name'] === 'PK_41a4f766897384573329b5a5989').map((n) => n['Actual Loops'])).toEqual(resourceLoops);
      }
    }
  }, 120_000);
});

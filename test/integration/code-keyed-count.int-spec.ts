import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import type { Actor } from '../../src/identity/actor.js';
import { CONFIDENTIALITY_SYSTEM } from '../../src/store/access-facts.js';
import { codeKeyedSql } from '../../src/store/postgres/keyed-page-sql.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { keyOf } from '../support/fhir-builders.js';
import { defaultPolicyService, openUnanalysedStore, type PlanNode, type UnanalysedStore } from '../support/unanalysed-store.js';

/*
 * Issue #13: the count of a patient's search by a code (`codeKeyedSql`'s `count` and
 * `countUpTo`, what `_summary=count`, `_total=accurate` and the default total past the page
 * read) judges each of the patient's token rows of the code. However it is planned (the
 * resource's row read by its primary key, or its type, id and owner taken from the token row),
 * every row-level condition must still exclude what it excludes: the `patient=` criterion (a record filed under the patient
 * through another link), the label (R-07), the care window of the row's own encounter (R-03),
 * an encounter of another patient. Each count is held to single decisions, with and without a
 * `_lastUpdated` criterion (which reads the resource's row again).
 */

const registry = SearchParameterRegistry.fromProfiles();
const LOINC = 'http://loinc.org';
/** `fhir_resource`'s primary key: a resource's row read by type and id. */
const FHIR_RESOURCE_PK = 'PK_41a4f766897384573329b5a5989';

describe('The count of a patient\'s search by a code, judged from the code\'s token rows (issue #13)', () => {
  let opened: UnanalysedStore;
  let store: PostgresFhirStore;
  const service = defaultPolicyService();

  beforeAll(async () => {
    opened = await openUnanalysedStore('code_keyed_count', registry);
    ({ store } = opened);
  });
  afterAll(() => opened?.close());

  const put = <T extends Resource>(r: T) => opened.put(r);

  /**
   * Patient X in a ward, with heart rates each of which some role must not count: plain; labelled
   * R; on X's closed stay of 2020; with no encounter; on another patient's closed encounter; and
   * one filed under X as its performer (its subject a Group), which `patient=X` does not match.
   */
  async function ward() {
    const tag = randomUUID().slice(0, 8);
    const dept = `${tag}-ward`;
    const x = (await put<Patient>({ resourceType: 'Patient' })).id;
    const z = (await put<Patient>({ resourceType: 'Patient' })).id;
    const stay = (subject: string, open: boolean, participant?: string) =>
      put<Encounter>({
        resourceType: 'Encounter',
        status: open ? 'in-progress' : 'finished',
        class: { code: 'IMP' },
        subject: { reference: `Patient/${subject}` },
        period: open ? { start: '2026-11-01T00:00:00Z' } : { start: '2020-01-01T00:00:00Z', end: '2020-01-09T00:00:00Z' },
        serviceProvider: { reference: `Organization/${dept}` },
        ...(participant ? { participant: [{ individual: { reference: participant } }] } : {}),
      });
    const open = await stay(x, true, `Practitioner/${tag}-dr`);
    const closed = await stay(x, false);
    const othersClosed = await stay(z, false);
    const heartRate = (subject: string, encounter: string | undefined, extra: Partial<Observation> = {}): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: '8867-4' }] },
      subject: { reference: subject },
      ...(encounter ? { encounter: { reference: `Encounter/${encounter}` } } : {}),
      ...extra,
    });
    const ids = {
      plain: (await put(heartRate(`Patient/${x}`, open.id))).id,
      restricted: (await put(heartRate(`Patient/${x}`, open.id, { meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }] } }))).id,
      closedStay: (await put(heartRate(`Patient/${x}`, closed.id))).id,
      noEncounter: (await put(heartRate(`Patient/${x}`, undefined))).id,
      othersEncounter: (await put(heartRate(`Patient/${x}`, othersClosed.id))).id,
      performer: (await put(heartRate(`Group/${tag}-group`, open.id, { performer: [{ reference: `Patient/${x}` }] }))).id,
      zs: (await put(heartRate(`Patient/${z}`, othersClosed.id))).id,
    };
    const staff = {
      doctor: { id: `${tag}-dr`, practitioner: `Practitioner/${tag}-dr`, roles: ['attending'], department: `${tag}-elsewhere`, scopes: [] },
      nurse: { id: `${tag}-rn`, practitioner: `Practitioner/${tag}-rn`, roles: ['nurse'], department: dept, scopes: [] },
      his: { id: `${tag}-his`, practitioner: `Practitioner/${tag}-his`, roles: ['his-system'], scopes: [] },
      stranger: { id: `${tag}-far`, practitioner: `Practitioner/${tag}-far`, roles: ['attending'], department: `${tag}-elsewhere`, scopes: [] },
    } satisfies Record<string, Actor>;
    return { x, ids, staff };
  }

  /** The ids (of `ids`) single decisions allow `who` among the search's matches without a policy. */
  async function allowedBySingleDecisions(who: Actor, query: string, ids: Record<string, string>): Promise<string[]> {
    const names = new Map(Object.entries(ids).map(([name, id]) => [`Observation/${id}`, name]));
    const allowed: string[] = [];
    for (const r of (await store.search({ ...opened.observations(query), count: 1000 })).matches) {
      const facts = await store.accessFacts(r.resourceType, r.id as string, { careWindowDays: 30 });
      if ((await service.decide(who, 'search', facts)).allowed) allowed.push(names.get(keyOf(r)) ?? keyOf(r));
    }
    return allowed.sort();
  }

  it('R-03/R-07: each count equals what single decisions allow, a record filed under the patient by another link left out', async () => {
    const { x, ids, staff } = await ward();
    // The performer's heart rate is among X's token rows of the code (owner X): the count must leave it out by the `patient=` criterion.
    const owners = await opened.db.query<{ owner: string }>(`SELECT owner FROM fhir_search_token WHERE resource_type = 'Observation' AND resource_id = $1 AND param = 'code'`, [ids.performer]);
    expect(owners).toEqual([{ owner: x }]);
    const seen: Record<string, string[]> = {};
    for (const [name, who] of Object.entries(staff)) {
      const access = await service.filter(who, 'search', ['Observation']);
      for (const query of [`patient=${x}&code=${LOINC}|8867-4`, `patient=${x}&code=${LOINC}|8867-4&_lastUpdated=ge2000-01-01`]) {
        const allowed = await allowedBySingleDecisions(who, query, ids);
        const request = { ...opened.observations(query), access };
        expect(codeKeyedSql(request)).toBeDefined();
        const summary = await store.search({ ...request, countOnly: true });
        const accurate = await store.search({ ...request, total: 'accurate', count: 1, offset: 1 });
        // Past the end: the page is empty, so the default total is counted (`countUpTo`).
        const pastEnd = await store.search({ ...request, count: 5, offset: 50 });
        expect({ name, query, summary: summary.total, accurate: accurate.total, pastEnd: pastEnd.total, entries: pastEnd.matches.length }).toEqual({
          name,
          query,
          summary: allowed.length,
          accurate: allowed.length,
          pastEnd: allowed.length,
          entries: 0,
        });
        seen[name] = allowed;
      }
    }
    // What each role counts, named: the oracle above is single decisions; this says which rows they are.
    expect(seen).toEqual({
      doctor: ['closedStay', 'noEncounter', 'othersEncounter', 'plain'],
      nurse: ['noEncounter', 'plain'],
      his: ['closedStay', 'noEncounter', 'othersEncounter', 'plain', 'restricted'],
      stranger: [],
    });
  }, 120_000);

  it('counts without reading the resources\' rows, unless a criterion compares one of their columns', async () => {
    const { x, staff } = await ward();
    const access = await service.filter(staff.nurse, 'search', ['Observation']);
    const readsResources = async (query: string) => {
      const keyed = codeKeyedSql({ ...opened.observations(query), access })!;
      const reads = async (statement: { text: string; params: unknown[] }) =>
        (await opened.plan(statement)).some((n: PlanNode & { 'Relation Name'?: string }) => n['Relation Name'] === 'fhir_resource' || n['Index Name'] === FHIR_RESOURCE_PK);
      return { page: await reads(keyed.page), count: await reads(keyed.count), countUpTo: await reads(keyed.countUpTo(500)) };
    };
    expect(await readsResources(`patient=${x}&code=${LOINC}|8867-4`)).toEqual({ page: true, count: false, countUpTo: false });
    expect(await readsResources(`patient=${x}&code=${LOINC}|8867-4&_lastUpdated=ge2000-01-01`)).toEqual({ page: true, count: true, countUpTo: true });
  }, 60_000);
});

import 'reflect-metadata';
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import type { Actor } from '../../src/identity/actor.js';
import { CONFIDENTIALITY_SYSTEM, type AccessFacts, type AccessFilter } from '../../src/store/access-facts.js';
import { broadCountSql, broadPageSql } from '../../src/store/postgres/broad-page-sql.js';
import { broadWalkSql, everyPatientCodeRowsUpTo, WALK_READS_PER_ROW } from '../../src/store/postgres/broad-walk-sql.js';
import { KEYED_UP_TO } from '../../src/store/postgres/keyed-page-sql.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { atInstant, searchSql } from '../../src/store/postgres/search-sql.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { keyOf } from '../support/fhir-builders.js';
import { singleFacts } from '../support/single-facts.js';
import { defaultPolicyService, openUnanalysedStore, type PlanNode, type UnanalysedStore } from '../support/unanalysed-store.js';

/*
 * Issue #13: a search across patients by a code, in the default order, reads each visible
 * patient's first rows (`broadPageSql`): the code's rows of a patient with few of them, a walk of
 * the record of one with many (past KEYED_UP_TO). These tests hold its pages and totals to what
 * single decisions allow for a department's doctor and nurse, a care-team doctor and a stranger,
 * then check that the page reads about a page per patient, without statistics and after ANALYZE.
 */

const registry = SearchParameterRegistry.fromProfiles();
const LOINC = 'http://loinc.org';
const LOCAL = 'urn:test:local';
const FHIR_RESOURCE_PK = 'PK_41a4f766897384573329b5a5989';

describe('A search across patients by a code, read one visible patient at a time (issue #13)', () => {
  let opened: UnanalysedStore;
  let store: PostgresFhirStore;
  const service = defaultPolicyService();

  beforeAll(async () => {
    opened = await openUnanalysedStore('broad_code', registry);
    ({ store } = opened);
  });
  afterAll(() => opened?.close());

  const request = (query: string) => opened.observations(query);
  const key = keyOf;
  const put = <T extends Resource>(r: T) => opened.put(r);

  /**
   * A ward: a long stay with `common` heart rates (1 in 9 labelled R, hidden from staff by R-07),
   * four inpatients with a few each (one labelled R, one matching under two systems), an
   * outpatient of the ward whose visit ended long ago (outside the care window), and a patient
   * of another ward under the care-team doctor; plus a patient no one here may see.
   */
  async function ward(common: number) {
    const tag = randomUUID().slice(0, 8);
    const dept = `${tag}-ward`;
    const patient = async () => (await put<Patient>({ resourceType: 'Patient' })).id;
    const visit = async (p: string, where: string, status: 'in-progress' | 'finished', who?: string) =>
      put<Encounter>({
        resourceType: 'Encounter',
        status,
        class: { code: 'IMP' },
        subject: { reference: `Patient/${p}` },
        serviceProvider: { reference: `Organization/${where}` },
        ...(status === 'finished' ? { period: { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' } } : {}),
        ...(who ? { participant: [{ individual: { reference: `Practitioner/${who}` } }] } : {}),
      });
    const obs = (p: string, e: string, codes: { system: string; code: string }[], n: number, restricted = false): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      ...(restricted ? { meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }] } } : {}),
      code: { coding: codes },
      subject: { reference: `Patient/${p}` },
      encounter: { reference: `Encounter/${e}` },
      effectiveDateTime: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString(),
    });
    const hr = [{ system: LOINC, code: '8867-4' }];
    const long = await patient();
    const stay = await visit(long, dept, 'in-progress');
    for (let n = 0; n < common; n += 25) {
      await Promise.all(Array.from({ length: Math.min(25, common - n) }, (_, k) => put(obs(long, stay.id, hr, n + k, (n + k) % 9 === 4))));
    }
    for (let i = 0; i < 4; i++) {
      const p = await patient();
      const e = await visit(p, dept, 'in-progress');
      await put(obs(p, e.id, hr, 1000 + i, i === 1));
      await put(obs(p, e.id, i === 2 ? [...hr, { system: LOCAL, code: '8867-4' }] : hr, 2000 + i));
      await put(obs(p, e.id, [{ system: LOINC, code: '8310-5' }], 3000 + i));
    }
    const past = await patient();
    await put(obs(past, (await visit(past, dept, 'finished')).id, hr, 4000));
    const cared = await patient();
    await put(obs(cared, (await visit(cared, `${tag}-elsewhere`, 'in-progress', `${tag}-team`)).id, hr, 5000));
    const far = await patient();
    await put(obs(far, (await visit(far, `${tag}-far`, 'in-progress')).id, hr, 6000));
    const staff = {
      doctor: { id: `${tag}-dr`, practitioner: `Practitioner/${tag}-dr`, roles: ['attending'], department: dept, scopes: [] },
      nurse: { id: `${tag}-rn`, practitioner: `Practitioner/${tag}-rn`, roles: ['nurse'], department: dept, scopes: [] },
      team: { id: `${tag}-team`, practitioner: `Practitioner/${tag}-team`, roles: ['attending'], department: `${tag}-none`, scopes: [] },
      stranger: { id: `${tag}-far`, practitioner: `Practitioner/${tag}-stranger`, roles: ['attending'], department: `${tag}-none`, scopes: [] },
      // Policies whose patients cannot be listed: every patient, judged by the records' labels alone.
      his: { id: `${tag}-his`, practitioner: `Practitioner/${tag}-his`, roles: ['his-system'], scopes: [] },
      recordRoom: { id: `${tag}-mr`, practitioner: `Practitioner/${tag}-mr`, roles: ['record-room'], scopes: [] },
    } satisfies Record<string, Actor>;
    return { staff };
  }

  /** Which of the broad plans' statements `search` ran: the walk, and the count of the code's rows that decides whether to walk. */
  async function statementsOf(search: () => Promise<unknown>): Promise<{ walked: boolean; codeRowsCounted: boolean }> {
    const spy = jest.spyOn(opened.db, 'query');
    try {
      await search();
      const texts = spy.mock.calls.map(([text]) => String(text));
      return { walked: texts.some((t) => t.includes('walked AS MATERIALIZED')), codeRowsCounted: texts.some((t) => t.includes('ORDER BY x.owner LIMIT')) };
    } finally {
      spy.mockRestore();
    }
  }

  /** The search's patients can be listed from the policy (a department, a care team, grants): the per-patient plan applies. */
  const listsPatients = (who: Actor) => !who.roles.some((role) => role === 'his-system' || role === 'record-room');

  /** What single decisions allow of the search without a policy, in its order; then every page under the policy against it. */
  async function expectPagesAsSingleReads(
    factsOf: (r: Resource) => Promise<AccessFacts>,
    who: Actor,
    query: string,
    count: number,
    perPatientPlan = listsPatients(who),
  ): Promise<string[]> {
    const everyMatch = (await store.search({ ...request(query), count: 1000 })).matches;
    const allowed: string[] = [];
    for (const r of everyMatch) {
      if ((await service.decide(who, 'search', await factsOf(r))).allowed) allowed.push(key(r));
    }
    const access = await service.filter(who, 'search', ['Observation']);
    if (perPatientPlan) expect(broadPageSql({ ...request(query), access })).toBeDefined();
    const collected: string[] = [];
    for (let offset = 0; offset <= allowed.length; offset += count) {
      const page = await store.search({ ...request(query), count, offset, access });
      // `estimate`: exact up to 500, or on the page that reaches the end; never counting a record the caller may not see.
      const size = Math.min(count, allowed.length - offset);
      const expected = { total: allowed.length <= 500 || (size > 0 && offset + count >= allowed.length) ? allowed.length : undefined, size };
      expect({ query, offset, total: page.total, size: page.matches.length }).toEqual({ query, offset, ...expected });
      collected.push(...page.matches.map(key));
    }
    expect({ query, collected }).toEqual({ query, collected: allowed });
    const accurate = await store.search({ ...request(`${query}&_total=accurate`), count, access });
    expect({ query, accurate: accurate.total }).toEqual({ query, accurate: allowed.length });
    return allowed;
  }

  it('R-03/R-04/R-05/R-07: each page and total is what single reads allow, the long stay past KEYED_UP_TO walked, each record once', async () => {
    const { staff } = await ward(KEYED_UP_TO + 40);
    // The code has more than KEYED_UP_TO rows: the HIS's page of 7 is walked (the pages below hold its answers to single decisions).
    const his = await service.filter(staff.his, 'search', ['Observation']);
    expect(await statementsOf(() => store.search({ ...request(`code=${LOINC}|8867-4`), count: 7, access: his }))).toEqual({ walked: true, codeRowsCounted: true });
    const seen: Record<string, number> = {};
    const factsOf = singleFacts(store);
    for (const [name, who] of Object.entries(staff)) {
      seen[`${name} common`] = (await expectPagesAsSingleReads(factsOf, who, `code=8867-4`, 150)).length;
      seen[`${name} loinc`] = (await expectPagesAsSingleReads(factsOf, who, `code=${LOINC}|8867-4`, 7)).length;
      seen[`${name} either`] = (await expectPagesAsSingleReads(factsOf, who, `code=${LOCAL}|8867-4,${LOINC}|8310-5`, 3)).length;
    }
    // Of the long stay's 540 heart rates 60 are R; the inpatients add 7 (one R); the care-team patient 1.
    // The HIS names every label and sees every patient: 540, 8, and the three others' 1 each; the record room all but R.
    expect(seen).toEqual({
      'doctor common': 480 + 7,
      'doctor loinc': 480 + 7,
      'doctor either': 5,
      'nurse common': 480 + 7,
      'nurse loinc': 480 + 7,
      'nurse either': 5,
      'team common': 1,
      'team loinc': 1,
      'team either': 0,
      'stranger common': 0,
      'stranger loinc': 0,
      'stranger either': 0,
      'his common': 540 + 8 + 3,
      'his loinc': 540 + 8 + 3,
      'his either': 5,
      'recordRoom common': 480 + 7 + 3,
      'recordRoom loinc': 480 + 7 + 3,
      'recordRoom either': 5,
    });
  }, 300_000);

  it('reads about a page per visible patient (the long stay walked as far as the page), without statistics and after ANALYZE', async () => {
    const { staff } = await ward(KEYED_UP_TO + 40);
    for (const analysed of [false, true]) {
      if (analysed) await opened.analyse();
      for (const who of [staff.doctor, staff.nurse]) {
        const statement = broadPageSql({ ...request(`code=${LOINC}|8867-4`), access: await service.filter(who, 'search', ['Observation']) })!;
        const nodes = await opened.plan(statement);
        // The long stay's record walked one row at a time, as far as 21 allowed rows (24 with the R ones), never the 541 of it.
        const walks = nodes.filter((n) => n['Index Name'] === 'ix_fhir_resource_owner');
        const walked = walks.reduce((sum, n) => sum + n['Actual Loops'] * n['Actual Rows'], 0);
        expect({ analysed, walks: walks.length, oneAtATime: walks.every((n) => n['Actual Rows'] <= 1), walkedPastAPage: walked > 30 }).toEqual({ analysed, walks: 2, oneAtATime: true, walkedPastAPage: false });
        // Resources read by primary key: the inpatients' 8 rows of the code and the long stay's rows walked, never its 541.
        const byKey = nodes.filter((n) => n['Index Name'] === 'PK_41a4f766897384573329b5a5989');
        expect({ analysed, readByKey: byKey.reduce((sum, n) => sum + n['Actual Loops'] * n['Actual Rows'], 0) <= 8 + 30 }).toEqual({ analysed, readByKey: true });
      }
    }
  }, 300_000);

  it('R-03/R-04: lists the patients of a department once per statement, however many of its conditions ask for them, without statistics and after ANALYZE', async () => {
    // Each statement asks for the department's patients two or three times: the patients a page visits,
    // the owner filter of a criterion's index rows, and each row's judgement. Listed once each time,
    // at about 15 index reads per open visit, they were most of a department's broad search (issue #13).
    const { staff } = await ward(30);
    for (const analysed of [false, true]) {
      if (analysed) await opened.analyse();
      for (const who of [staff.doctor, staff.nurse]) {
        const access = await service.filter(who, 'search', ['Observation']);
        const statements = {
          'broad page': broadPageSql({ ...request(`code=${LOINC}|8867-4`), access })!,
          'default total': broadCountSql({ ...request(`code=${LOINC}|8867-4`), access })!.countUpTo(500),
          'page by status': searchSql({ ...request('status=final'), access }).page,
          'count by status': searchSql({ ...request('status=final'), access }).count,
        };
        const listed: Record<string, number> = {};
        for (const [name, statement] of Object.entries(statements)) {
          const nodes = await opened.plan(statement);
          listed[name] = nodes.filter((n) => n['Index Name'] === 'ix_fhir_search_reference_department').reduce((sum, n) => sum + n['Actual Loops'], 0);
        }
        expect({ analysed, who: who.id, listed }).toEqual({ analysed, who: who.id, listed: { 'broad page': 1, 'default total': 1, 'page by status': 1, 'count by status': 1 } });
      }
    }
    // The answers stay those of single decisions: the first test of this file, and the access property test.
  }, 300_000);

  it('R-03/R-07: counts across patients from the code\'s rows without reading the resources\' rows, unless a criterion compares one of their columns; each count as single decisions', async () => {
    const { staff } = await ward(30);
    const queries = [`code=${LOINC}|8867-4`, 'code=8867-4', `code=${LOINC}|8867-4&_lastUpdated=ge2000-01-01`, `code=${LOINC}|8867-4&_lastUpdated=lt2000-01-01`];
    const counted: Record<string, number> = {};
    const factsOf = singleFacts(store);
    // The staff whose patients are listed (every match in the database is judged below; the HIS's and the record room's counts are the last test's).
    for (const [name, who] of Object.entries(staff).filter(([, who]) => listsPatients(who))) {
      const access = await service.filter(who, 'search', ['Observation']);
      for (const query of queries) {
        // Every match in the database (the file's other wards too), a thousand at a time, each judged alone.
        let allowed = 0;
        for (let offset = 0, more = true; more; offset += 1000) {
          const { matches } = await store.search({ ...request(query), count: 1000, offset });
          for (const r of matches) if ((await service.decide(who, 'search', await factsOf(r))).allowed) allowed++;
          more = matches.length === 1000;
        }
        const asked = { ...request(query), access };
        expect(broadCountSql(asked)).toBeDefined();
        const summary = await store.search({ ...asked, countOnly: true });
        const accurate = await store.search({ ...asked, total: 'accurate', count: 1, offset: 1 });
        // Past the end: the page is empty, so the default total is counted (`countUpTo`).
        const pastEnd = await store.search({ ...asked, count: 5, offset: 100 });
        expect({ name, query, summary: summary.total, accurate: accurate.total, pastEnd: pastEnd.total }).toEqual({ name, query, summary: allowed, accurate: allowed, pastEnd: allowed });
        counted[`${name} ${query}`] = allowed;
      }
    }
    // Named: the long stay's 30 less 3 R (hidden from staff by R-07), the inpatients' 8 less 1 R (one matches under two systems, counted once), the care-team patient's 1.
    expect(Object.values(counted)).toEqual([27 + 7, 27 + 7, 27 + 7, 0, 27 + 7, 27 + 7, 27 + 7, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    const access = await service.filter(staff.doctor, 'search', ['Observation']);
    const readsResources = async (query: string) => {
      const counts = broadCountSql({ ...request(query), access })!;
      const reads = async (statement: { text: string; params: unknown[] }) =>
        (await opened.plan(statement)).some((n: PlanNode & { 'Relation Name'?: string }) => n['Relation Name'] === 'fhir_resource' || n['Index Name'] === FHIR_RESOURCE_PK);
      return { count: await reads(counts.count), countUpTo: await reads(counts.countUpTo(500)) };
    };
    expect(await readsResources(`code=${LOINC}|8867-4`)).toEqual({ count: false, countUpTo: false });
    expect(await readsResources(`code=${LOINC}|8867-4&_lastUpdated=ge2000-01-01`)).toEqual({ count: true, countUpTo: true });
  }, 300_000);

  it('R-03/R-04/R-07: walks the records newest first while that finds the page, gives up after its reads, and pages as single decisions either way, for a policy whose patients cannot be listed too', async () => {
    const tag = randomUUID().slice(0, 8);
    const code = `${tag}-hr`;
    const query = `code=${LOCAL}|${code}&_sort=-_lastUpdated`;
    const patient = async () => (await put<Patient>({ resourceType: 'Patient' })).id;
    const visit = async (p: string, where: string) =>
      put<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${p}` }, serviceProvider: { reference: `Organization/${where}` } });
    const obs = (p: string, e: string, restricted: boolean): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      ...(restricted ? { meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }] } } : {}),
      code: { coding: [{ system: LOCAL, code }] },
      subject: { reference: `Patient/${p}` },
      encounter: { reference: `Encounter/${e}` },
    });
    // Three inpatients of the ward, four heart rates each (one labelled R: hidden from staff by R-07).
    for (let i = 0; i < 3; i++) {
      const p = await patient();
      const e = await visit(p, `${tag}-ward`);
      for (let k = 0; k < 4; k++) await put(obs(p, e.id, k === 1));
    }
    const doctor: Actor = { id: `${tag}-dr`, practitioner: `Practitioner/${tag}-dr`, roles: ['attending'], department: `${tag}-ward`, scopes: [] };
    const stranger: Actor = { id: `${tag}-far`, practitioner: `Practitioner/${tag}-far`, roles: ['attending'], department: `${tag}-none`, scopes: [] };
    const walkOf = async (who: Actor) => broadWalkSql({ ...request(query), count: 2, access: await service.filter(who, 'search', ['Observation']) })!;
    // A page of 2 needs 3 rows: the walk reads 300 records, and the sort's last batch of ties (up to 32) past them.
    const limit = 3 * WALK_READS_PER_ROW;
    /** Rows the walk answered and records it read (the type's `last_updated` index). */
    const walked = async (who: Actor) => {
      const nodes = await opened.plan(await walkOf(who));
      const reads = nodes.filter((n) => n['Index Name'] === 'ix_fhir_resource_type_updated').reduce((sum, n) => sum + n['Actual Rows'], 0);
      return { rows: nodes[0]['Actual Rows'], reads };
    };

    // The newest records are the ward's: the walk finds the doctor's page (3 rows: 2 and one more) within a few reads
    // (the order's ties by id are sorted in batches of at least 32 records, PostgreSQL's incremental sort).
    const first = await walked(doctor);
    expect({ rows: first.rows, fewReads: first.reads <= 40 }).toEqual({ rows: 3, fewReads: true });
    expect(await expectPagesAsSingleReads(singleFacts(store), doctor, query, 2, false)).toHaveLength(9);
    // A stranger's walk finds nothing, never reading past its limit; the general plan answers: none.
    const nothing = await walked(stranger);
    expect({ rows: nothing.rows, withinLimit: nothing.reads <= limit + 40 }).toEqual({ rows: 0, withinLimit: true });
    expect(await expectPagesAsSingleReads(singleFacts(store), stranger, query, 2, false)).toHaveLength(0);

    // Newer records of a patient of another ward, more than the walk reads: it gives up, and the doctor's pages are the same.
    const far = await patient();
    const farVisit = await visit(far, `${tag}-far`);
    for (let n = 0; n < 3 * WALK_READS_PER_ROW + 10; n += 25) {
      await Promise.all(Array.from({ length: 25 }, () => put(obs(far, farVisit.id, false))));
    }
    const gaveUp = await walked(doctor);
    expect({ rows: gaveUp.rows, atItsLimit: gaveUp.reads >= limit && gaveUp.reads <= limit + 40 }).toEqual({ rows: 0, atItsLimit: true });
    expect(await expectPagesAsSingleReads(singleFacts(store), doctor, query, 2, false)).toHaveLength(9);
    // In ascending order the walk starts at the oldest records (this file's other wards, or these): the same pages.
    expect(await expectPagesAsSingleReads(singleFacts(store), doctor, `code=${LOCAL}|${code}`, 4)).toHaveLength(9);

    // A policy whose patients cannot be listed (the HIS's, the record room's: every patient, by the records' labels) walks
    // too, judging each record by the full condition: the far patient's newest heart rates are the HIS's page at once.
    const his: Actor = { id: `${tag}-his`, practitioner: `Practitioner/${tag}-his`, roles: ['his-system'], scopes: [] };
    const recordRoom: Actor = { id: `${tag}-mr`, practitioner: `Practitioner/${tag}-mr`, roles: ['record-room'], scopes: [] };
    // The ward's 12 (3 labelled R) and the far patient's, 25 at a time past the walk's reads.
    const seen = 12 + Math.ceil((3 * WALK_READS_PER_ROW + 10) / 25) * 25;
    // The code has at most KEYED_UP_TO rows in all: the HIS's search reads them (the general plan) and does not walk,
    // which would probe each of up to 2,100 records for the code before giving up (20-30 ms at 100,000 Observations).
    const hisAccess = await service.filter(his, 'search', ['Observation']);
    const codeRows = everyPatientCodeRowsUpTo({ ...request(query), access: hisAccess }, KEYED_UP_TO)!;
    expect((await opened.db.query<{ n: number }>(codeRows.text, codeRows.params))[0].n).toBe(seen);
    expect(await statementsOf(() => store.search({ ...request(query), count: 2, access: hisAccess }))).toEqual({ walked: false, codeRowsCounted: true });
    // A doctor's walk tests the owner first and probes only the department's records: it walks whatever the code's rows.
    expect(everyPatientCodeRowsUpTo({ ...request(query), access: await service.filter(doctor, 'search', ['Observation']) }, KEYED_UP_TO)).toBeUndefined();
    for (const who of [his, recordRoom]) {
      // (How far it reads on a larger store whose statistics lag is the stale-statistics plan test's.)
      expect({ who: who.id, rows: (await walked(who)).rows }).toEqual({ who: who.id, rows: 3 });
      // Their counts read the code's rows of every patient, each judged: the record room's leave out the three labelled R.
      const access = await service.filter(who, 'search', ['Observation']);
      const asked = { ...request(query), access };
      const capped = broadCountSql(asked)!.countUpTo(9);
      const counts = {
        summary: (await store.search({ ...asked, countOnly: true })).total,
        accurate: (await store.search({ ...asked, total: 'accurate', count: 1, offset: 1 })).total,
        pastEnd: (await store.search({ ...asked, count: 5, offset: 400 })).total,
        capped: (await opened.db.query<{ n: number }>(capped.text, atInstant(capped.params, new Date())))[0].n,
      };
      const allowed = who === his ? seen : seen - 3;
      expect({ who: who.id, ...counts }).toEqual({ who: who.id, summary: allowed, accurate: allowed, pastEnd: allowed, capped: 10 });
      expect(await expectPagesAsSingleReads(singleFacts(store), who, query, 25)).toHaveLength(allowed);
    }
    // A condition one of whose branches lists patients (here the far patient; a grant, a care team) and another cannot:
    // nothing of the listed branch is left in the statement (once its parameter, which PostgreSQL could not type, found
    // by the access property test). The far patient's records are the record room's already: the same page and counts.
    const roomAccess = await service.filter(recordRoom, 'search', ['Observation']);
    const either: AccessFilter = { ...roomAccess, condition: { operator: 'or', value: [{ field: 'patient', operator: 'in', value: [far] }, roomAccess.condition!] } };
    const eitherWalk = broadWalkSql({ ...request(query), count: 2, access: either })!;
    const eitherRows = await opened.db.query<{ id: string }>(eitherWalk.text, atInstant(eitherWalk.params, new Date()));
    const roomWalk = await walkOf(recordRoom);
    expect(eitherRows.map((r) => r.id)).toEqual((await opened.db.query<{ id: string }>(roomWalk.text, atInstant(roomWalk.params, new Date()))).map((r) => r.id));
    expect((await store.search({ ...request(query), access: either, countOnly: true })).total).toBe(seen - 3);

    // Newer records of another code, more than the walk reads: the HIS's walk gives up, and the general plan gives the same pages.
    const other = await visit(far, `${tag}-far`);
    for (let n = 0; n < 3 * WALK_READS_PER_ROW + 10; n += 25) {
      await Promise.all(Array.from({ length: 25 }, () => put({ ...obs(far, other.id, false), code: { coding: [{ system: LOCAL, code: `${tag}-rr` }] } })));
    }
    expect((await walked(his)).rows).toBe(0);
    expect(await expectPagesAsSingleReads(singleFacts(store), his, query, 25)).toHaveLength(seen);
  }, 300_000);
});

import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import * as fc from 'fast-check';
import type { Coding, DocumentReference, Encounter, Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import type { Actor } from '../../src/identity/actor.js';
import { AccessPolicyService } from '../../src/policy/access-policy.service.js';
import { ActiveAccessSource, type ActiveAccess } from '../../src/policy/active-access.port.js';
import type { Action } from '../../src/policy/domain/actions.js';
import { LoadedPolicy } from '../../src/policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy, validatePolicy } from '../../src/policy/policy.loader.js';
import { CONFIDENTIALITY_SYSTEM, type AccessFacts } from '../../src/store/access-facts.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { atInstant, datedPageSql, searchSql } from '../../src/store/postgres/search-sql.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest, type SearchRequest } from '../../src/store/search/search-request.js';
import { sql, urlOf } from '../support/database-admin.js';
import { singleFacts } from '../support/single-facts.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/*
 * Issue #13: a search fixed to one patient (`patient=X`, `subject=Patient/X`, `$everything`)
 * judges what the policy asks of the patient alone once per statement, and the rows' own facts
 * (labels, status, authors, encounter) on each row, reading the label only of the rows that
 * carry one outside what a rule covers. These tests hold that path to what single decisions
 * allow: the same resources, in the order of the search without a policy, with totals that
 * count exactly those, page by page; for the default policy's roles on a record with
 * restricted documents, and for random policies. Then its plans: the same on a database
 * without statistics and after ANALYZE, every per-row read a primary-key probe, the label read
 * only on the labelled rows, and nothing read for a caller the policy gives no way to the patient.
 *
 * The suite runs in a database of its own, with autovacuum off on the store's tables, so that
 * "no statistics" really holds until the suite runs ANALYZE itself.
 */

const registry = SearchParameterRegistry.fromProfiles();
const resourceTypes = loadR4Definitions();
/** The types `$everything` is filtered on, as `FhirService.everything` computes them. */
const EVERYTHING_TYPES = [...new Set(['Patient', ...registry.indexedTypes()])];
const STORE_TABLES = [
  'fhir_resource',
  'fhir_search_token',
  'fhir_search_reference',
  'fhir_search_date',
  'fhir_search_string',
  'fhir_search_number',
  'fhir_search_quantity',
  'fhir_search_composite',
];

type Label = 'U' | 'L' | 'M' | 'N' | 'R' | 'V';
/** A confidentiality code, `R` under another system (which must not count), or a code the order does not know. */
type LabelSpec = Label | 'other-system-R' | 'unknown-X';

function security(labels: readonly LabelSpec[]): { meta?: { security: Coding[] } } {
  if (labels.length === 0) return {};
  return {
    meta: {
      security: labels.map((l) =>
        l === 'other-system-R' ? { system: 'urn:test:not-confidentiality', code: 'R' } : { system: CONFIDENTIALITY_SYSTEM, code: l === 'unknown-X' ? 'X' : l },
      ),
    },
  };
}

/** Test double for the grant table only: the grants and break-the-glass each actor holds. */
class HeldAccess extends ActiveAccessSource {
  private readonly held = new Map<string, ActiveAccess>();
  hold(actorId: string, access: Partial<ActiveAccess>): void {
    this.held.set(actorId, { grants: [], breakGlass: [], ...access });
  }
  activeFor(actorId: string): Promise<ActiveAccess> {
    return Promise.resolve(this.held.get(actorId) ?? { grants: [], breakGlass: [] });
  }
}

const actor = (id: string, roles: string[], practitioner: string, department?: string): Actor => ({
  id,
  practitioner: `Practitioner/${practitioner}`,
  roles,
  ...(department ? { department } : {}),
  scopes: [],
});

/** One node of `EXPLAIN (ANALYZE, FORMAT JSON)`. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  'Parent Relationship'?: string;
  'Subplan Name'?: string;
  'Actual Loops': number;
  'Actual Rows': number;
  'One-Time Filter'?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan with whether it runs inside an InitPlan (once per statement). */
function nodesOf(node: PlanNode, inInitPlan = false): { node: PlanNode; inInitPlan: boolean }[] {
  const here = inInitPlan || (node['Parent Relationship'] === 'InitPlan');
  return [{ node, inInitPlan: here }, ...(node.Plans ?? []).flatMap((child) => nodesOf(child, here))];
}

describe('A patient\'s page under the access policy: the patient judged once, each row by its own facts (issue #13)', () => {
  const database = `chartwarden_patient_plan_${Date.now()}_${process.pid}`;
  let db: ChartWardenDatabase;
  let store: PostgresFhirStore;

  beforeAll(async () => {
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    // JIT off for this pool: `$everything`'s linked stream is costed past jit_above_cost; results do not depend on it.
    const url = new URL(urlOf(database));
    url.searchParams.set('options', '-c jit=off');
    db = await ChartWardenDatabase.connect(url.toString(), 4);
    for (const table of STORE_TABLES) await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    store = new PostgresFhirStore(db, registry, PatientCompartment.fromProfiles(), new SystemClock());
  });
  afterAll(async () => {
    await db?.onApplicationShutdown();
    await dropThrowawayDatabase(urlOf(), database);
  });

  const request = (type: string, query: string): SearchRequest =>
    parseSearchRequest(type, [...new URLSearchParams(query).entries()], registry, { defaultCount: 20, maxCount: 1000, lenient: false });
  const key = (r: Resource) => `${r.resourceType}/${r.id}`;
  const put = async <T extends Resource>(r: T) => (await store.create(r, r.id ? { assignedId: r.id } : {})).resource as T & { id: string };

  /** What single decisions allow of `found`, in its order. */
  async function allowedOf(factsOf: (r: Resource) => Promise<AccessFacts>, service: AccessPolicyService, who: Actor, action: Action, found: Resource[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of found) if ((await service.decide(who, action, await factsOf(r))).allowed) out.push(key(r));
    return out;
  }

  /**
   * `type?query` under `who`'s policy, paged with `count` to the end, against single decisions on
   * the same search without a policy: the same resources in the same order, every page full but
   * the last, and every page's total (default and accurate) the number allowed.
   */
  async function expectPagesAsSingleReads(factsOf: (r: Resource) => Promise<AccessFacts>, service: AccessPolicyService, who: Actor, type: string, query: string, count: number): Promise<string[]> {
    const everyMatch = (await store.search({ ...request(type, query), count: 1000 })).matches;
    const allowed = await allowedOf(factsOf, service, who, 'search', everyMatch);
    const access = await service.filter(who, 'search', [type]);
    const collected: string[] = [];
    for (let offset = 0; offset <= allowed.length; offset += count) {
      const page = await store.search({ ...request(type, query), count, offset, access });
      expect({ query, offset, total: page.total, size: page.matches.length }).toEqual({ query, offset, total: allowed.length, size: Math.min(count, allowed.length - offset) });
      const accurate = await store.search({ ...request(type, `${query}&_total=accurate`), count, offset, access });
      expect(accurate.total).toBe(allowed.length);
      collected.push(...page.matches.map(key));
    }
    expect({ query, count, collected }).toEqual({ query, count, collected: allowed });
    return allowed;
  }

  /** `$everything` for `who` (read), paged with `count`, against single read decisions on the unfiltered compartment. */
  async function expectEverythingAsSingleReads(factsOf: (r: Resource) => Promise<AccessFacts>, service: AccessPolicyService, who: Actor, patientId: string, count: number): Promise<string[]> {
    const all = (await store.everything(patientId, { count: 1000, offset: 0 })).matches;
    const allowed = await allowedOf(factsOf, service, who, 'read', all);
    const access = await service.filter(who, 'read', EVERYTHING_TYPES);
    const collected: string[] = [];
    for (let offset = 0; offset <= allowed.length; offset += count) {
      const page = await store.everything(patientId, { count, offset, access });
      expect({ offset, total: page.total }).toEqual({ offset, total: allowed.length });
      collected.push(...page.matches.map(key));
    }
    expect(collected).toEqual(allowed);
    return allowed;
  }

  /**
   * A treating doctor's inpatient (an open encounter in cardiology with the doctor as participant)
   * whose record holds restricted documents and observations among ordinary ones, a second
   * patient, and records that name the patient by another link than the searched one.
   */
  async function restrictedRecord() {
    const tag = randomUUID().slice(0, 8);
    const [cardiology, surgery] = [`${tag}-cardio`, `${tag}-surgery`];
    const [doctor, author] = [`${tag}-dr`, `${tag}-author`];
    const x = (await put<Patient>({ resourceType: 'Patient', id: `${tag}-x`, name: [{ family: 'Restricted' }] })).id;
    const y = (await put<Patient>({ resourceType: 'Patient', id: `${tag}-y`, name: [{ family: 'Other' }] })).id;
    const stay = await put<Encounter>({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${x}` },
      serviceProvider: { reference: `Organization/${cardiology}` },
      participant: [{ individual: { reference: `Practitioner/${doctor}` } }],
    });
    await put<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${y}` }, serviceProvider: { reference: `Organization/${surgery}` } });
    const labels: LabelSpec[][] = [[], [], ['R'], [], ['V'], ['N'], [], ['L', 'R'], ['other-system-R'], [], ['R'], ['L'], ['unknown-X'], [], ['M', 'N'], ['R'], []];
    let minute = 0;
    const vital = (subject: string, l: LabelSpec[], extra: Partial<Observation> = {}): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      ...security(l),
      code: { coding: [{ system: 'http://loinc.org', code: minute % 3 ? '8867-4' : '8310-5' }] },
      subject: { reference: subject },
      encounter: { reference: `Encounter/${stay.id}` },
      ...(minute % 4 === 3 ? {} : { effectiveDateTime: `2026-12-0${1 + (minute % 5)}T08:${String(minute++ % 60).padStart(2, '0')}:00+08:00` }),
      ...extra,
    });
    for (const l of labels) await put(vital(`Patient/${x}`, l));
    // Filed under x (its performer) with no patient as subject: in x's `$everything`, not in `patient=x`.
    await put(vital(`Group/${tag}-ward`, ['R'], { performer: [{ reference: `Patient/${x}` }] }));
    await put(vital(`Group/${tag}-ward`, [], { performer: [{ reference: `Patient/${x}` }] }));
    // y's, naming x as performer: in x's `$everything` (linked), never in x's `patient=` pages.
    await put(vital(`Patient/${y}`, [], { performer: [{ reference: `Patient/${x}` }] }));
    await put(vital(`Patient/${y}`, ['R']));
    for (const [n, l] of ([[], ['R'], ['V'], [], ['N']] as LabelSpec[][]).entries()) {
      await put<DocumentReference>({
        resourceType: 'DocumentReference',
        status: n === 3 ? 'entered-in-error' : 'current',
        ...security(l),
        type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
        subject: { reference: `Patient/${x}` },
        author: [{ reference: `Practitioner/${n % 2 ? doctor : author}` }],
        context: { encounter: [{ reference: `Encounter/${stay.id}` }] },
        content: [{ attachment: { contentType: 'text/plain', data: 'cHJvZ3Jlc3M=' } }],
      });
    }
    // Signatures naming x themselves (R4 Provenance `patient`): a type whose token rows carry no owner.
    for (const l of [[], ['R']] as LabelSpec[][]) {
      await put<Provenance>({
        resourceType: 'Provenance',
        ...security(l),
        target: [{ reference: `Patient/${x}` }],
        recorded: '2026-12-06T08:00:00+08:00',
        agent: [{ who: { reference: `Practitioner/${doctor}` } }],
      });
    }
    return { tag, x, y, cardiology, surgery, doctor, stay };
  }

  /** The default policy's staff around `restrictedRecord`, and the grants and break-the-glass they hold. */
  function defaultStaff(r: Awaited<ReturnType<typeof restrictedRecord>>) {
    const held = new HeldAccess();
    const until = new Date(Date.now() + 3600_000);
    const staff = {
      treating: actor(`${r.tag}-treating`, ['attending'], r.doctor, r.surgery),
      department: actor(`${r.tag}-dept`, ['attending'], `${r.tag}-dept-dr`, r.cardiology),
      nurse: actor(`${r.tag}-nurse`, ['nurse'], `${r.tag}-rn`, r.cardiology),
      chief: actor(`${r.tag}-chief`, ['chief'], `${r.tag}-chief`, r.cardiology),
      borrower: actor(`${r.tag}-borrower`, ['resident'], `${r.tag}-res`, r.surgery),
      glass: actor(`${r.tag}-glass`, ['attending'], `${r.tag}-er`, r.surgery),
      stranger: actor(`${r.tag}-stranger`, ['attending'], `${r.tag}-far`, `${r.tag}-elsewhere`),
      recordRoom: actor(`${r.tag}-records`, ['record-room'], `${r.tag}-clerk`),
      affairs: actor(`${r.tag}-affairs`, ['medical-affairs'], `${r.tag}-ma`),
      his: actor(`${r.tag}-his`, ['his-system'], `${r.tag}-his`),
    };
    held.hold(staff.borrower.id, { grants: [{ id: 'grant-1', patientId: r.x, until }] });
    held.hold(staff.glass.id, { breakGlass: [{ id: 'btg-1', patientId: r.x, until }] });
    const service = new AccessPolicyService(new LoadedPolicy(loadPolicy(defaultPolicyPath(), resourceTypes)), held, new SystemClock());
    return { staff, service };
  }

  it('R-03/R-04/R-05/R-07: for every role of the default policy, a patient\'s pages, totals and $everything equal what single reads allow, restricted records left out or in by their labels', async () => {
    const r = await restrictedRecord();
    const { staff, service } = defaultStaff(r);
    const seen = new Map<string, number>();
    const factsOf = singleFacts(store);
    for (const [name, who] of Object.entries(staff)) {
      for (const [type, query] of [
        ['Observation', `patient=${r.x}`],
        ['Observation', `subject=Patient/${r.x}`],
        ['Observation', `patient=${r.x}&_sort=-date`],
        ['Observation', `patient=${r.x}&_sort=date,-_id`],
        ['Observation', `patient=${r.x}&code=http://loinc.org|8867-4`],
        ['DocumentReference', `patient=${r.x}`],
        ['Provenance', `patient=${r.x}`],
      ]) {
        for (const count of [3, 20]) seen.set(`${name} ${type}?${query}`, (await expectPagesAsSingleReads(factsOf, service, who, type, query, count)).length);
      }
      seen.set(`${name} $everything`, (await expectEverythingAsSingleReads(factsOf, service, who, r.x, 4)).length);
    }
    // The record is what the roles make of it: 17 of x's Observations by subject, 5 of them
    // labelled outside the default labels (R, V, or L with R); `unknown-X` and the other system's R count as N.
    const obs = (name: string) => seen.get(`${name} Observation?patient=${r.x}`);
    expect({ his: obs('his'), affairs: obs('affairs'), chief: obs('chief'), glass: obs('glass') }).toEqual({ his: 17, affairs: 17, chief: 16, glass: 16 });
    expect({ treating: obs('treating'), department: obs('department'), nurse: obs('nurse'), borrower: obs('borrower'), recordRoom: obs('recordRoom') }).toEqual({
      treating: 12,
      department: 12,
      nurse: 12,
      borrower: 12,
      recordRoom: 12,
    });
    expect(obs('stranger')).toBe(0);
    expect(seen.get(`stranger $everything`)).toBe(0);
    expect(seen.get(`treating DocumentReference?patient=${r.x}`)).toBe(3);
    expect(seen.get(`treating Provenance?patient=${r.x}`)).toBe(1);
  }, 120_000);

  it('R-07: a patient with more records labelled outside the rule than are looked up at once (a VIP\'s) still pages and counts exactly what single reads allow', async () => {
    const r = await restrictedRecord();
    const { staff, service } = defaultStaff(r);
    for (let n = 0; n < 55; n++) {
      await put<Observation>({ resourceType: 'Observation', status: 'final', ...security(n % 11 ? ['V'] : ['L']), code: { text: `vip ${n}` }, subject: { reference: `Patient/${r.x}` } });
    }
    const factsOf = singleFacts(store);
    expect(await expectPagesAsSingleReads(factsOf, service, staff.treating, 'Observation', `patient=${r.x}`, 7)).toHaveLength(12 + 5);
    expect(await expectPagesAsSingleReads(factsOf, service, staff.glass, 'Observation', `patient=${r.x}&_sort=-_lastUpdated`, 9)).toHaveLength(16 + 5);
    expect(await expectPagesAsSingleReads(factsOf, service, staff.affairs, 'Observation', `patient=${r.x}`, 25)).toHaveLength(17 + 55);
  }, 120_000);

  describe('plans', () => {
    /**
     * `EXPLAIN (ANALYZE)` of a patient search's statement under `who`'s policy: its count up to the
     * default cap, its page, or (sorted by a date) the page's part read from the patient's dates.
     */
    async function explain(service: AccessPolicyService, who: Actor, type: string, query: string, which: 'count' | 'page' | 'dated'): Promise<PlanNode> {
      const search = { ...request(type, query), access: await service.filter(who, 'search', [type]) };
      const built = searchSql(search);
      const dated = datedPageSql(search);
      if (which === 'dated' && !dated) throw new Error(`${type}?${query} is not read from the patient's dates`);
      const statement = which === 'count' ? built.countUpTo(500) : which === 'page' ? built.page : dated!.dated(search.count + 1, 0);
      const rows = await db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, atInstant(statement.params, new Date()));
      return rows[0]['QUERY PLAN'][0].Plan;
    }

    /** A scan's conditions, in the index or after it. */
    const keyedBy = (node: PlanNode) => `${node['Index Cond'] ?? ''} ${node.Filter ?? ''}`;
    /**
     * Per-row reads of the row's own index rows (outside InitPlans, run more than once, keyed by
     * the row: `r.id`, or `d.resource_id` read from the patient's dates): each must be a
     * primary-key probe, never a scan of a type's lookup index. (The facts of the row's encounter
     * are keyed by the encounter: with statistics saying a hospital has few Encounters, as here,
     * PostgreSQL may rightly read them from the lookup index.)
     */
    const perRowReads = (plan: PlanNode) =>
      nodesOf(plan).filter(
        ({ node, inInitPlan }) => !inInitPlan && node['Index Name'] !== undefined && node['Actual Loops'] > 1 && /= \((r\.id|d\.resource_id)\)/.test(keyedBy(node)),
      );
    /** How many times a row's own label was read (per-row probes of its `_security` token rows). */
    const labelProbes = (plan: PlanNode) =>
      nodesOf(plan)
        .filter(({ node, inInitPlan }) => !inInitPlan && node['Relation Name'] === 'fhir_search_token' && /resource_id = \(r\.id\)/.test(keyedBy(node)))
        .reduce((n, { node }) => n + node['Actual Loops'], 0);
    const ownerScans = (plan: PlanNode) => nodesOf(plan).filter(({ node }) => node['Index Name'] === 'ix_fhir_resource_owner');

    it('are the same without statistics and after ANALYZE: the patient\'s own index drives, every per-row read is a primary-key probe, a label is read only on the rows that carry one outside the rule, and a caller with no way to the patient reads no row', async () => {
      const r = await restrictedRecord();
      const { staff, service } = defaultStaff(r);
      // Other patients' records (about 15,000 token rows), so that the tables are not a few pages:
      // on tables that small every index costs about one page read, and without statistics
      // PostgreSQL may take a type's lookup index for a row's probe (it did, at 4,000 token rows:
      // harmless at that size, the whole type's rows being a page or two).
      const others = Array.from({ length: 40 }, (_, n) => `${r.tag}-other-${n}`);
      for (const id of others) await put<Patient>({ resourceType: 'Patient', id });
      for (let n = 0; n < 1200; n += 20) {
        await Promise.all(
          Array.from({ length: 20 }, (_, k) =>
            put<Observation>({
              resourceType: 'Observation',
              status: 'final',
              ...security((n + k) % 9 ? [] : ['R']),
              code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
              subject: { reference: `Patient/${others[(n + k) % others.length]}` },
              effectiveDateTime: '2026-12-01T08:00:00+08:00',
            }),
          ),
        );
      }
      const statistics = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = ANY($1)`, [STORE_TABLES]))[0].n;
      for (const analysed of [false, true]) {
        if (analysed) for (const table of STORE_TABLES) await db.query(`ANALYZE ${table}`);
        if (analysed) expect(await statistics()).toBeGreaterThan(0);
        else expect(await statistics()).toBe(0);
        for (const which of ['count', 'page'] as const) {
          const treating = await explain(service, staff.treating, 'Observation', `patient=${r.x}`, which);
          expect(ownerScans(treating).map(({ node }) => node['Actual Loops'])).toEqual([1]);
          for (const { node } of perRowReads(treating)) expect({ analysed, which, index: node['Index Name'] }).toEqual({ analysed, which, index: expect.stringMatching(/^PK_/) });
          // The count reads the 19 Observations filed under x (17 by subject, 2 by performer): the label only
          // of those with a code outside U, L, M, N (R, V, L with R): the 5 by subject, and the one by performer
          // when PostgreSQL judges the policy before the subject (it orders the two by their estimated cost).
          if (which === 'count') {
            expect(labelProbes(treating)).toBeGreaterThanOrEqual(5);
            expect(labelProbes(treating)).toBeLessThanOrEqual(6);
          }
          // The HIS's rules name every label: no label is read at all.
          expect({ analysed, which, probes: labelProbes(await explain(service, staff.his, 'Observation', `patient=${r.x}`, which)) }).toEqual({ analysed, which, probes: 0 });
          // A caller with no way to the patient: a one-time filter, and the patient's rows never read.
          const stranger = await explain(service, staff.stranger, 'Observation', `patient=${r.x}`, which);
          expect(ownerScans(stranger).map(({ node }) => node['Actual Loops'])).toEqual([0]);
          expect(nodesOf(stranger).some(({ node }) => node['One-Time Filter'] !== undefined)).toBe(true);
        }
        // Sorted by date: read from the patient's date index, still probing by primary key only.
        const dated = await explain(service, staff.nurse, 'Observation', `patient=${r.x}&_sort=-date`, 'dated');
        expect(nodesOf(dated).filter(({ node }) => node['Index Name'] === 'ix_fhir_search_date_owner_high').map(({ node }) => node['Actual Loops'])).toEqual([1]);
        for (const { node } of perRowReads(dated)) expect({ analysed, index: node['Index Name'] }).toEqual({ analysed, index: expect.stringMatching(/^PK_/) });
      }
    }, 120_000);
  });

  // ---------------------------------------------------------------------------------------
  // Random policies: labels with and without N, denials, row conditions
  // ---------------------------------------------------------------------------------------

  const LABELS: Label[] = ['U', 'L', 'M', 'N', 'R', 'V'];
  const whenArb = fc.subarray(['onCareTeam', 'sameDepartment', 'withinCareWindow', 'hasGrant', 'breakGlass', 'status', 'docType', 'authoredBySelf'] as const, { maxLength: 2 }).map((keys) => {
    const when: Record<string, unknown> = {};
    for (const k of keys) {
      if (k === 'status') when.status = ['final', 'current'];
      else if (k === 'docType') when.docType = ['11506-3'];
      else when[k] = true;
    }
    return when;
  });
  const ruleArb = fc.record({
    effect: fc.oneof({ weight: 4, arbitrary: fc.constant('allow' as const) }, { weight: 1, arbitrary: fc.constant('deny' as const) }),
    on: fc.constantFrom(['patient-record'], ['Observation'], ['DocumentReference', 'Observation']),
    when: whenArb,
    labels: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.subarray(LABELS, { minLength: 1 }) }),
  });
  const policyArb = fc.record({ rules: fc.array(ruleArb, { minLength: 1, maxLength: 4 }), defaultLabels: fc.subarray(LABELS, { minLength: 1 }) }).map(({ rules, defaultLabels }) =>
    validatePolicy(
      {
        version: 'patient-plan-1',
        settings: { hiddenRecords: 'forbidden', careWindowDaysAfterDischarge: 30, breakGlass: { hours: 4, roles: ['ra'] }, grants: { defaultDays: 3, maxDays: 30 }, defaultLabels },
        groups: { 'patient-record': ['Patient', 'Encounter', 'Observation', 'DocumentReference'] },
        roles: {
          ra: {
            rules: rules.map((rule, i) => ({
              id: `ra.r${i}`,
              [rule.effect]: ['read', 'search'],
              on: rule.on,
              ...(Object.keys(rule.when).length ? { when: rule.when } : {}),
              ...(rule.labels ? { labels: rule.labels } : {}),
            })),
          },
        },
      },
      resourceTypes,
      'generated policy',
    ),
  );
  const labelsArb = fc.oneof({ weight: 3, arbitrary: fc.constant<LabelSpec[]>([]) }, { weight: 2, arbitrary: fc.subarray<LabelSpec>([...LABELS, 'other-system-R'], { minLength: 1, maxLength: 2 }) });
  const recordArb = fc.record({
    observations: fc.array(fc.record({ labels: labelsArb, final: fc.boolean(), inStay: fc.boolean(), dated: fc.boolean() }), { maxLength: 12 }),
    documents: fc.array(fc.record({ labels: labelsArb, current: fc.boolean(), byActor: fc.boolean() }), { maxLength: 4 }),
    stayOpen: fc.boolean(),
    onTeam: fc.boolean(),
    inDepartment: fc.boolean(),
    grant: fc.boolean(),
    breakGlass: fc.boolean(),
  });

  it('R-02/R-03/R-07: for random policies (labels with and without N, denials, row conditions) a patient\'s pages, totals and $everything equal what single reads allow', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, recordArb, fc.integer({ min: 1, max: 5 }), async (policy, spec, count) => {
        const tag = randomUUID().slice(0, 8);
        const x = (await put<Patient>({ resourceType: 'Patient', id: `${tag}-x` })).id;
        const stay = await put<Encounter>({
          resourceType: 'Encounter',
          status: spec.stayOpen ? 'in-progress' : 'finished',
          class: { code: 'IMP' },
          subject: { reference: `Patient/${x}` },
          serviceProvider: { reference: `Organization/${tag}-${spec.inDepartment ? 'here' : 'there'}` },
          participant: spec.onTeam ? [{ individual: { reference: `Practitioner/${tag}-dr` } }] : [],
          ...(spec.stayOpen ? {} : { period: { start: '2020-01-01T00:00:00Z', end: '2020-02-01T00:00:00Z' } }),
        });
        for (const [n, o] of spec.observations.entries()) {
          await put<Observation>({
            resourceType: 'Observation',
            status: o.final ? 'final' : 'preliminary',
            ...security(o.labels),
            code: { text: `obs ${n}` },
            subject: { reference: `Patient/${x}` },
            ...(o.inStay ? { encounter: { reference: `Encounter/${stay.id}` } } : {}),
            ...(o.dated ? { effectiveDateTime: `2026-12-0${1 + (n % 7)}T08:00:00+08:00` } : {}),
          });
        }
        for (const d of spec.documents) {
          await put<DocumentReference>({
            resourceType: 'DocumentReference',
            status: d.current ? 'current' : 'superseded',
            ...security(d.labels),
            type: { coding: [{ system: 'urn:test:document-type', code: '11506-3' }] },
            subject: { reference: `Patient/${x}` },
            author: [{ reference: `Practitioner/${d.byActor ? `${tag}-dr` : `${tag}-other`}` }],
            content: [{ attachment: { contentType: 'text/plain', data: 'eA==' } }],
          });
        }
        const held = new HeldAccess();
        const who = actor(`${tag}-ra`, ['ra'], `${tag}-dr`, `${tag}-here`);
        const until = new Date(Date.now() + 3600_000);
        held.hold(who.id, {
          grants: spec.grant ? [{ id: 'g', patientId: x, until }] : [],
          breakGlass: spec.breakGlass ? [{ id: 'b', patientId: x, until }] : [],
        });
        const service = new AccessPolicyService(new LoadedPolicy(policy), held, new SystemClock());
        const factsOf = singleFacts(store);
        await expectPagesAsSingleReads(factsOf, service, who, 'Observation', `patient=${x}`, count);
        await expectPagesAsSingleReads(factsOf, service, who, 'Observation', `patient=${x}&_sort=-date`, count);
        await expectPagesAsSingleReads(factsOf, service, who, 'DocumentReference', `patient=${x}`, count);
        await expectEverythingAsSingleReads(factsOf, service, who, x, count);
      }),
      { numRuns: 25 },
    );
  }, 240_000);
});

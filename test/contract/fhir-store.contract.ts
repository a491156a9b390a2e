import { randomUUID } from 'node:crypto';
import type { Appointment, Composition, Coverage, DocumentReference, Encounter, Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { byCodeUnit } from '../../src/common/code-unit-order.js';
import { numberLexemes, storedText } from '../../src/common/fhir-json-text.js';
import type { FhirStore } from '../../src/store/fhir-store.port.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest, type SearchRequest } from '../../src/store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../../src/store/store.errors.js';
import type { AccessCondition } from '../../src/store/access-facts.js';

/** What an adapter's spec provides: a store to test, and how to release it. */
export interface StoreUnderTest {
  store: FhirStore;
  close(): Promise<void>;
}

/**
 * The behaviour every `FhirStore` adapter must have. Each adapter's `*.contract-spec.ts`
 * calls this with a factory; the tests isolate themselves with a fresh identifier system,
 * so they can share a database with other suites.
 */
export function fhirStoreContract(adapter: string, open: () => Promise<StoreUnderTest>): void {
  describe(`FhirStore contract: ${adapter}`, () => {
    let sut: StoreUnderTest;
    let store: FhirStore;
    const registry = SearchParameterRegistry.fromProfiles();
    const system = `urn:test:${randomUUID()}`;
    const search = (type: string, query: string): SearchRequest =>
      parseSearchRequest(type, [...new URLSearchParams(query).entries()], registry, { defaultCount: 20, maxCount: 1000, lenient: false });
    const patient = (value: string, extra: Partial<Patient> = {}): Patient => ({
      resourceType: 'Patient',
      identifier: [{ system, value }],
      ...extra,
    });
    /** An Observation of `patient`, filed under `encounter` when given. */
    const observation = (patientId: string | undefined, text: string, encounterId?: string): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      code: { text },
      subject: { reference: `Patient/${patientId}` },
      ...(encounterId ? { encounter: { reference: `Encounter/${encounterId}` } } : {}),
    });
    const expectStoreError = async (p: Promise<unknown>, code: StoreErrorCode) => {
      await expect(p).rejects.toBeInstanceOf(StoreError);
      await expect(p).rejects.toMatchObject({ code });
    };

    beforeAll(async () => {
      sut = await open();
      store = sut.store;
    });
    afterAll(() => sut.close());

    it('create assigns the id, versionId and lastUpdated, and read returns the same version', async () => {
      const { resource, created } = await store.create(patient('c1', { id: 'client-chosen', gender: 'female' } as Partial<Patient>));
      expect(created).toBe(true);
      expect(resource.id).toBeDefined();
      expect(resource.id).not.toBe('client-chosen');
      expect(resource.meta?.versionId).toBeDefined();
      expect(Date.parse(resource.meta?.lastUpdated as string)).not.toBeNaN();
      expect(await store.read('Patient', resource.id as string)).toEqual(resource);
    });

    it('read of an unknown id is NotFound', async () => {
      await expectStoreError(store.read('Patient', randomUUID()), StoreErrorCode.NotFound);
    });

    it('R-12: an update adds a version and the previous version stays readable unchanged', async () => {
      const v1 = (await store.create(patient('u1', { gender: 'male' }))).resource;
      const v2 = (await store.update({ ...v1, id: v1.id as string, gender: 'female' }, { ifMatch: v1.meta?.versionId })).resource;
      expect(v2.meta?.versionId).not.toBe(v1.meta?.versionId);
      expect(((await store.read('Patient', v1.id as string)) as Patient).gender).toBe('female');
      const old = await store.vread('Patient', v1.id as string, v1.meta?.versionId as string);
      expect(old).toEqual(v1);
      const history = await store.history('Patient', v1.id, { count: 10, offset: 0 });
      expect(history.total).toBe(2);
      expect(history.entries.map((e) => e.resource.meta?.versionId)).toEqual([v2.meta?.versionId, v1.meta?.versionId]);
    });

    it('an update with a stale If-Match is a VersionConflict and changes nothing', async () => {
      const v1 = (await store.create(patient('s1'))).resource;
      await store.update({ ...v1, id: v1.id as string, gender: 'other' });
      await expectStoreError(store.update({ ...v1, id: v1.id as string, gender: 'male' }, { ifMatch: v1.meta?.versionId }), StoreErrorCode.VersionConflict);
      const current = (await store.read('Patient', v1.id as string)) as Patient;
      expect(current.gender).toBe('other');
      expect((await store.history('Patient', v1.id, { count: 10, offset: 0 })).total).toBe(2);
    });

    it('an update to an id that does not exist yet creates it (HIS-chosen ids)', async () => {
      const id = `his-${randomUUID()}`;
      const outcome = await store.update(patient('h1', { id } as Partial<Patient>) as Patient & { id: string });
      expect(outcome.created).toBe(true);
      expect(((await store.read('Patient', id)) as Patient).identifier?.[0].value).toBe('h1');
    });

    it('an update that changes nothing adds no version', async () => {
      const v1 = (await store.create(patient('n1'))).resource;
      const again = await store.update({ ...v1, id: v1.id as string });
      expect(again.unchanged).toBe(true);
      expect((await store.history('Patient', v1.id, { count: 10, offset: 0 })).total).toBe(1);
    });

    it('concurrent updates each get their own version; none is lost', async () => {
      const v1 = (await store.create(patient('cc1'))).resource;
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.update({ ...v1, id: v1.id as string, birthDate: `2000-01-${String(i + 1).padStart(2, '0')}` })),
      );
      const history = await store.history('Patient', v1.id, { count: 20, offset: 0 });
      expect(history.total).toBe(9);
      expect(new Set(history.entries.map((e) => e.resource.meta?.versionId)).size).toBe(9);
    });

    it('searches token, string, date and reference parameters, and _id', async () => {
      const p = (await store.create(patient('srch-1', { name: [{ family: 'Müller', given: ['Anna'] }], birthDate: '1990-05-06', gender: 'female' }))).resource;
      const o = (await store.create<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${p.id}` },
        effectiveDateTime: '2024-03-05T10:00:00+08:00',
      })).resource;
      const ids = async (type: string, q: string) => (await store.search(search(type, q))).matches.map((r: Resource) => r.id);
      expect(await ids('Patient', `identifier=${system}|srch-1`)).toEqual([p.id]);
      expect(await ids('Patient', `identifier=${system}|srch-1&name=mull`)).toEqual([p.id]);
      expect(await ids('Patient', `identifier=${system}|srch-1&name=anna&birthdate=1990-05`)).toEqual([p.id]);
      expect(await ids('Patient', `identifier=${system}|srch-1&birthdate=lt1990-05-06`)).toEqual([]);
      expect(await ids('Patient', `identifier=${system}|srch-1&gender=male`)).toEqual([]);
      expect(await ids('Observation', `patient=${p.id}`)).toEqual([o.id]);
      expect(await ids('Observation', `subject=Patient/${p.id}&code=http://loinc.org|8867-4&date=2024-03-05`)).toEqual([o.id]);
      expect(await ids('Observation', `patient=${p.id}&date=gt2024-03-05`)).toEqual([]);
      expect(await ids('Patient', `_id=${p.id}`)).toEqual([p.id]);
    });

    it('search pages are full, stable, and add up to the total without duplicates', async () => {
      const tag = `page-${randomUUID()}`;
      for (let i = 0; i < 7; i++) await store.create(patient(`${tag}-${i}`, { name: [{ family: tag }] }));
      const seen: string[] = [];
      for (let offset = 0; offset < 9; offset += 3) {
        const page = await store.search({ ...search('Patient', `family=${tag}&_count=3`), offset });
        expect(page.total).toBe(7);
        seen.push(...page.matches.map((m) => m.id as string));
      }
      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(7);
    });

    it('_include brings referenced resources and _revinclude referencing ones, marked apart from matches', async () => {
      const p = (await store.create(patient('inc-1'))).resource;
      const o = (await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${p.id}` } })).resource;
      const inc = await store.search(search('Observation', `patient=${p.id}&_include=Observation:patient`));
      expect(inc.matches.map((m) => m.id)).toEqual([o.id]);
      expect(inc.included.map((m) => m.id)).toEqual([p.id]);
      const rev = await store.search(search('Patient', `_id=${p.id}&_revinclude=Observation:patient`));
      expect(rev.included.map((m) => m.id)).toEqual([o.id]);
    });

    it('conditional create returns the existing match instead of creating a duplicate, even when racing', async () => {
      const value = `cond-${randomUUID()}`;
      const condition = search('Patient', `identifier=${system}|${value}`);
      const results = await Promise.all(Array.from({ length: 5 }, () => store.create(patient(value), { ifNoneExist: condition })));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.resource.id)).size).toBe(1);
      expect((await store.search(condition)).total).toBe(1);
    });

    it('R-03: conditional create honours the condition\'s access filter (a record outside it is no match) and tells the matches\' patients', async () => {
      const p = (await store.create(patient('cond-acc'))).resource;
      const value = `cond-acc-${randomUUID()}`;
      const obs = (v: string): Observation => ({
        resourceType: 'Observation',
        status: 'final',
        code: { text: v },
        identifier: [{ system, value }],
        subject: { reference: `Patient/${p.id}` },
      });
      const first = (await store.create(obs('first'))).resource;
      const condition = search('Observation', `identifier=${system}|${value}`);
      const told: (string | undefined)[][] = [];
      const matched = await store.create(obs('again'), { ifNoneExist: condition, onMatches: (patients) => told.push([...patients]) });
      expect({ created: matched.created, id: matched.resource.id }).toEqual({ created: false, id: first.id });
      expect(told).toEqual([[p.id]]);
      const elsewhere: AccessCondition = { operator: 'eq', field: 'patient', value: `nobody-${randomUUID()}` };
      const outside = { ...condition, access: { condition: elsewhere, options: { careWindowDays: 30 } } };
      const hidden = await store.create(obs('hidden'), { ifNoneExist: outside, onMatches: (patients) => told.push([...patients]) });
      expect(hidden.created).toBe(true);
      expect(told).toEqual([[p.id], []]);
      expect((await store.search(condition)).total).toBe(2);
    });

    it('R-03: checkMany answers for each id what check answers for it alone, in one call; unknown ids are left out', async () => {
      const p = (await store.create(patient('chk-1'))).resource;
      const q = (await store.create(patient('chk-2'))).resource;
      const of = async (who: Resource) => {
        const subject = { reference: `Patient/${who.id}` };
        const created = await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'c' }, subject });
        return created.resource.id as string;
      };
      const ids = [await of(p), await of(q), await of(p)];
      const conditions: AccessCondition[] = [{ operator: 'eq', field: 'patient', value: q.id }, { operator: 'eq', field: 'status', value: 'final' }];
      const options = { careWindowDays: 30 };
      const unknown = randomUUID();
      const many = await store.checkMany('Observation', [...ids, unknown], conditions, options);
      expect(many.has(unknown)).toBe(false);
      for (const id of ids) {
        const one = await store.check('Observation', id, conditions, options, false);
        expect(many.get(id)).toEqual({ patient: one.patient, firstMatch: one.firstMatch });
      }
      expect(ids.map((id) => many.get(id)?.firstMatch)).toEqual([1, 0, 1]);
      const patients = await store.checkMany('Patient', [p.id as string], [{ operator: 'eq', field: 'patient', value: p.id }], options);
      expect(patients.get(p.id as string)).toEqual({ patient: p.id, firstMatch: 0 });
      expect((await store.checkMany('Observation', [], conditions, options)).size).toBe(0);
    });

    it('R-51: a transaction that fails part-way stores nothing', async () => {
      const value = `tx-${randomUUID()}`;
      await expect(
        store.transaction(async (tx) => {
          await tx.create(patient(value));
          throw new Error('second step failed');
        }),
      ).rejects.toThrow('second step failed');
      expect((await store.search(search('Patient', `identifier=${system}|${value}`))).total).toBe(0);
    });

    it('$everything returns the patient and what is in their compartment, nothing of other patients', async () => {
      const p = (await store.create(patient('ev-1'))).resource;
      const other = (await store.create(patient('ev-2'))).resource;
      const mine = (await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'a' }, subject: { reference: `Patient/${p.id}` } })).resource;
      await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'b' }, subject: { reference: `Patient/${other.id}` } });
      const all = await store.everything(p.id as string, { count: 100, offset: 0 });
      expect(all.matches.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual([`Observation/${mine.id}`, `Patient/${p.id}`].sort());
      expect(all.total).toBe(2);
    });
    it('within(unit) joins the transaction a unit belongs to: it sees its writes and rolls back with it', async () => {
      const value = `within-${randomUUID()}`;
      await expect(
        store.transaction(async (tx, unit) => {
          const created = (await tx.create(patient(value))).resource;
          const joined = store.within(unit);
          expect(await joined.read('Patient', created.id as string)).toEqual(created);
          await joined.create(patient(`${value}-joined`));
          expect((await tx.search(search('Patient', `identifier=${system}|${value}-joined`))).total).toBe(1);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await store.search(search('Patient', `identifier=${system}|${value}`))).total).toBe(0);
      expect((await store.search(search('Patient', `identifier=${system}|${value}-joined`))).total).toBe(0);
    });

    it("records answers about a patient's record, in the store's transaction when it has one", async () => {
      const p = (await store.create(patient('rec-1'))).resource;
      const e = (await store.create<Encounter>({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${p.id}` } })).resource;
      const o = (await store.create(observation(p.id, 'r', e.id))).resource;
      expect(await store.records.encountersOfPatient(p.id as string)).toEqual([e.id]);
      const under = await store.records.recordsOfEncounters([e.id as string], ['Observation']);
      expect(under.map((r) => ({ id: r.resource.id, versionId: r.versionId, encounter: r.encounter }))).toEqual([{ id: o.id, versionId: o.meta?.versionId, encounter: e.id }]);
      expect((await store.records.currentVersions([{ type: 'Observation', id: o.id as string }])).get(`Observation/${o.id}`)).toBe(o.meta?.versionId);
      // Outside a transaction a lock would end with its statement: refused.
      await expect(store.records.lock([{ type: 'Encounter', id: e.id as string }], 'update')).rejects.toThrow(/transaction/);
      await store.transaction(async (tx) => {
        const later = (await tx.create(observation(p.id, 's'))).resource;
        expect((await tx.records.recordsOfPatient(p.id as string, ['Observation'])).map((r) => r.resource.id)).toEqual([o.id, later.id]);
        expect((await store.records.recordsOfPatient(p.id as string, ['Observation'])).map((r) => r.resource.id)).toEqual([o.id]);
      });
    });

    it('lockForWrite resolves the patient, encounters and signed records of a write in every reference form, and needs a transaction', async () => {
      const p = (await store.create(patient('lfw-1'))).resource;
      const [e1, e2] = [
        (await store.create<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${p.id}` } })).resource,
        (await store.create<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${p.id}` } })).resource,
      ];
      const document: DocumentReference = {
        resourceType: 'DocumentReference',
        status: 'current',
        subject: { reference: `https://his.example/fhir/Patient/${p.id}` },
        context: { encounter: [{ reference: `Encounter/${e2.id}/_history/1` }, { reference: `Encounter/${e1.id}` }] },
        content: [{ attachment: { contentType: 'text/plain', data: 'YQ==' } }],
      };
      await expect(store.lockForWrite(document, 'create')).rejects.toThrow(/transaction/);
      const scope = await store.transaction((tx) => tx.lockForWrite(document, 'create'));
      const visits = [e1.id as string, e2.id as string].sort(byCodeUnit);
      // A create's visits are held FOR KEY SHARE until its transaction ends, and said so (a guard may rely on what it learnt of them).
      expect(scope).toEqual({ patient: p.id, patients: [p.id], encounters: visits, storedEncounters: [], targets: [], unchanged: false, lockedEncounters: visits });
      // A visit that does not exist is locked by no one: not reported as held.
      const missing = `lfw-missing-${e1.id}`;
      const dangling = await store.transaction((tx) => tx.lockForWrite({ ...document, context: { encounter: [{ reference: `Encounter/${missing}` }, { reference: `Encounter/${e1.id}` }] } }, 'create'));
      expect(dangling).toMatchObject({ encounters: [e1.id as string, missing].sort(byCodeUnit), lockedEncounters: [e1.id] });
      const signature: Provenance = {
        resourceType: 'Provenance',
        target: [{ reference: `Encounter/${e1.id}` }, { reference: `Patient/${p.id}` }],
        recorded: '2024-01-01T00:00:00Z',
        agent: [{ who: { reference: 'Practitioner/x' } }],
      };
      const signed = await store.transaction((tx) => tx.lockForWrite(signature, 'create'));
      expect(signed.targets).toEqual([{ type: 'Encounter', id: e1.id }, { type: 'Patient', id: p.id }]);
      expect(signed.stored).toBeUndefined();
    });

    it('lockForWrite on an update returns the current version, locked, and whether the update would change nothing', async () => {
      const v1 = (await store.create(patient('lfw-2', { gender: 'male' }))).resource as Patient & { id: string };
      let other: Promise<unknown> | undefined;
      let updated = false;
      await store.transaction(async (tx) => {
        const same = await tx.lockForWrite({ ...v1, meta: undefined }, 'update');
        expect(same).toMatchObject({ stored: v1, unchanged: true, patient: v1.id, encounters: [], targets: [] });
        const changed = await tx.lockForWrite({ ...v1, gender: 'female' }, 'update');
        expect(changed.stored).toEqual(v1);
        expect(changed.unchanged).toBe(false);
        // Held until this transaction ends: another transaction's update waits for it.
        other = store.update({ ...v1, gender: 'other' }).then(() => (updated = true));
        await new Promise((r) => setTimeout(r, 300));
        expect(updated).toBe(false);
      });
      await other;
      expect(updated).toBe(true);
      expect(((await store.read('Patient', v1.id)) as Patient).gender).toBe('other');
      const fresh = await store.transaction((tx) => tx.lockForWrite(patient('lfw-3', { id: `his-${randomUUID()}` } as Partial<Patient>), 'update'));
      expect(fresh.stored).toBeUndefined();
      expect(fresh.unchanged).toBe(false);
    });

    it('R-41: lockForWrite names every patient a write names (as its search index does), sorted; `patient` is the first', async () => {
      const [a, b] = [(await store.create(patient('lfw-5'))).resource, (await store.create(patient('lfw-6'))).resource];
      const signature: Provenance = {
        resourceType: 'Provenance',
        target: [{ reference: `Patient/${b.id}` }, { reference: `Patient/${a.id}/_history/1` }],
        recorded: '2024-01-01T00:00:00Z',
        agent: [{ who: { reference: 'Practitioner/x' } }],
      };
      const scope = await store.transaction((tx) => tx.lockForWrite(signature, 'create'));
      const both = [a.id as string, b.id as string].sort(byCodeUnit);
      expect({ patient: scope.patient, patients: scope.patients }).toEqual({ patient: both[0], patients: both });
      const own = await store.transaction((tx) => tx.lockForWrite(a, 'update'));
      expect(own.patients).toEqual([a.id]);
    });

    it("R-15: lockForWrite on an update resolves the stored version's encounters too (a record moved out of a visit still concerns it)", async () => {
      const p = (await store.create(patient('lfw-7'))).resource;
      const visit = () => store.create<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${p.id}` } });
      const [e1, e2] = [(await visit()).resource, (await visit()).resource];
      const o = (await store.create(observation(p.id, 'moved', e1.id))).resource as Observation & { id: string };
      const scope = await store.transaction((tx) => tx.lockForWrite({ ...o, encounter: { reference: `https://his.example/fhir/Encounter/${e2.id}` } }, 'update'));
      expect({ encounters: scope.encounters, storedEncounters: scope.storedEncounters }).toEqual({ encounters: [e2.id], storedEncounters: [e1.id] });
      const created = await store.transaction((tx) => tx.lockForWrite(observation(p.id, 'new', e1.id), 'create'));
      expect(created.storedEncounters).toEqual([]);
    });

    it('R-12: of two PUTs creating the same id, the second waits in lockForWrite for the first to commit, then finds its version (an update, judged as one)', async () => {
      const id = `his-${randomUUID()}`;
      const fresh = patient('lfw-8', { id } as Partial<Patient>) as Patient & { id: string };
      const events: string[] = [];
      let locked!: () => void;
      const hasLock = new Promise<void>((r) => (locked = r));
      const first = store.transaction(async (tx) => {
        const scope = await tx.lockForWrite(fresh, 'update');
        expect(scope.stored).toBeUndefined();
        locked();
        await new Promise((r) => setTimeout(r, 300));
        await tx.update(fresh);
        events.push('first commits');
      });
      await hasLock;
      const second = store.transaction(async (tx) => {
        const scope = await tx.lockForWrite({ ...fresh, gender: 'female' }, 'update');
        events.push(`second sees version ${scope.stored?.meta?.versionId}`);
      });
      await Promise.all([first, second]);
      expect(events).toEqual(['first commits', 'second sees version 1']);
    });

    it("decision 0008: a create's encounter lock makes a concurrent FOR UPDATE of the encounter (a seal) wait until the create commits", async () => {
      const p = (await store.create(patient('lfw-4'))).resource;
      const e = (await store.create<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${p.id}` } })).resource;
      const events: string[] = [];
      let locked!: () => void;
      const hasLock = new Promise<void>((r) => (locked = r));
      const creator = store.transaction(async (tx) => {
        await tx.lockForWrite(observation(p.id, 'x', e.id), 'create');
        locked();
        await new Promise((r) => setTimeout(r, 400));
        events.push('creator commits');
      });
      await hasLock;
      // Another connection: a seal locking the encounter.
      const seal = store.transaction(async (tx) => {
        await tx.records.lock([{ type: 'Encounter', id: e.id as string }], 'update');
        events.push('seal locked the encounter');
      });
      await Promise.all([creator, seal]);
      expect(events).toEqual(['creator commits', 'seal locked the encounter']);
      // An update of an existing record locks no encounter (decision 0008: it would deadlock with a seal).
      const o = (await store.create(observation(p.id, 'y'))).resource as Observation & { id: string };
      await store.transaction(async (tx) => {
        await tx.lockForWrite({ ...o, encounter: { reference: `Encounter/${e.id}` } }, 'update');
        await store.transaction((other) => other.records.lock([{ type: 'Encounter', id: e.id as string }], 'update'));
      });
    });

    describe('decision 0014: numbers as the sender wrote them (`numbers`)', () => {
      /** An Observation of `patientId` with two numbers `JSON.stringify` writes otherwise than a sender may. */
      const reading = (patientId: string | undefined): Observation => ({
        ...observation(patientId, '体温'),
        valueQuantity: { value: 37.5, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' },
        referenceRange: [{ low: { value: 36, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' } }],
      });
      const VALUE = '/valueQuantity/value';
      const LOW = '/referenceRange/0/low/value';
      /** The text a version is served as, and the lexemes in it that `JSON.stringify` would not write. */
      const served = (version: Resource) => {
        const text = storedText(version);
        return { text: text === undefined ? undefined : (JSON.parse(text) as Resource), lexemes: Object.fromEntries(numberLexemes(text ?? '') ?? []) };
      };

      it('create and update keep the lexemes in the text read, vread and history serve; a precision-only change is a version', async () => {
        const p = (await store.create(patient('num-1'))).resource;
        const v1 = (await store.create(reading(p.id), { numbers: new Map([[VALUE, '37.50'], [LOW, '36.0']]) })).resource as Observation & { id: string };
        const incoming: Observation & { id: string } = { ...v1, meta: undefined };
        const first = await store.read('Observation', v1.id);
        expect(served(first)).toEqual({ text: first, lexemes: { [VALUE]: '37.50', [LOW]: '36.0' } });
        expect((first as Observation).valueQuantity?.value).toBe(37.5);

        // Same values, other precision: 37.5 as JSON writes it, 36.00.
        const v2 = await store.update(incoming, { numbers: new Map([[LOW, '36.00']]) });
        expect({ created: v2.created, unchanged: Boolean(v2.unchanged), versionId: v2.resource.meta?.versionId }).toEqual({ created: false, unchanged: false, versionId: '2' });
        const second = await store.read('Observation', v1.id);
        expect(served(second)).toEqual({ text: second, lexemes: { [LOW]: '36.00' } });
        expect(served(await store.vread('Observation', v1.id, '1')).lexemes).toEqual({ [VALUE]: '37.50', [LOW]: '36.0' });
        const history = await store.history('Observation', v1.id, { count: 10, offset: 0 });
        expect(history.entries.map((e) => served(e.resource).lexemes)).toEqual([{ [LOW]: '36.00' }, { [VALUE]: '37.50', [LOW]: '36.0' }]);

        // The same text again adds no version, and the stored text stays.
        const again = await store.update(incoming, { numbers: new Map([[LOW, '36.00']]) });
        expect(again.unchanged).toBe(true);
        expect((await store.history('Observation', v1.id, { count: 10, offset: 0 })).total).toBe(2);
        expect(served(await store.read('Observation', v1.id)).lexemes).toEqual({ [LOW]: '36.00' });
      });

      it('lockForWrite judges `unchanged` on the numbers as written: the same text is unchanged, a precision-only change is not', async () => {
        const p = (await store.create(patient('num-2'))).resource;
        const v1 = (await store.create(reading(p.id), { numbers: new Map([[VALUE, '37.50']]) })).resource as Observation & { id: string };
        const incoming: Observation & { id: string } = { ...v1, meta: undefined };
        const judged = await store.transaction(async (tx) => ({
          same: (await tx.lockForWrite(incoming, 'update', { numbers: new Map([[VALUE, '37.50']]) })).unchanged,
          finer: (await tx.lockForWrite(incoming, 'update', { numbers: new Map([[VALUE, '37.500']]) })).unchanged,
          plain: (await tx.lockForWrite(incoming, 'update')).unchanged,
          low: (await tx.lockForWrite(incoming, 'update', { numbers: new Map([[VALUE, '37.50'], [LOW, '36.0']]) })).unchanged,
        }));
        expect(judged).toEqual({ same: true, finer: false, plain: false, low: false });
      });
    });

    describe("decision 0016: the access facts' patient is the one whose record the resource is", () => {
      const options = { careWindowDays: 30 };
      /** A Patient with an id of our choosing, so which of two ids sorts first is known. */
      const chosen = async (prefix: string) => (await store.update(patient(prefix, { id: `${prefix}-${randomUUID()}` } as Partial<Patient>) as Patient & { id: string })).resource;
      /** The patient of `resource` as an incoming version, and, stored, as `accessFacts` and `check` read it. */
      const patientsOf = async (resource: Resource) => {
        const incoming = (await store.accessFactsOf(resource, options)).patient;
        const id = (await store.create(resource)).resource.id as string;
        const stored = (await store.accessFacts(resource.resourceType, id, options)).patient;
        const checked = (await store.check(resource.resourceType, id, [], options, false)).patient;
        return { incoming, stored, checked };
      };

      it('R-03: an Appointment linking the patient only through participant.actor is in that patient\'s record', async () => {
        const p = await chosen('appt');
        const appointment: Appointment = {
          resourceType: 'Appointment',
          status: 'booked',
          participant: [
            { actor: { reference: 'Practitioner/x' }, status: 'accepted' },
            { actor: { reference: `Patient/${p.id}` }, status: 'accepted' },
          ],
        };
        expect(await patientsOf(appointment)).toEqual({ incoming: p.id, stored: p.id, checked: p.id });
      });

      it("R-03: a Coverage is in its beneficiary's record, not its policy holder's (whose id sorts first)", async () => {
        const [holder, beneficiary] = [await chosen('cov-a'), await chosen('cov-b')];
        const coverage: Coverage = {
          resourceType: 'Coverage',
          status: 'active',
          policyHolder: { reference: `Patient/${holder.id}` },
          subscriber: { reference: `Patient/${holder.id}` },
          beneficiary: { reference: `Patient/${beneficiary.id}` },
          payor: [{ reference: 'Organization/insurer' }],
        };
        expect(await patientsOf(coverage)).toEqual({ incoming: beneficiary.id, stored: beneficiary.id, checked: beneficiary.id });
      });

      it("R-03: a Provenance whose only link is a target Composition is in the Composition's patient's record", async () => {
        const p = await chosen('prov');
        const composition = (await store.create<Composition>({
          resourceType: 'Composition',
          status: 'final',
          type: { text: '出院记录' },
          subject: { reference: `Patient/${p.id}` },
          date: '2024-01-01',
          author: [{ reference: 'Practitioner/x' }],
          title: '出院记录',
        })).resource;
        const signature: Provenance = {
          resourceType: 'Provenance',
          target: [{ reference: `Composition/${composition.id}` }],
          recorded: '2024-01-01T00:00:00Z',
          agent: [{ who: { reference: 'Practitioner/x' } }],
        };
        expect(await patientsOf(signature)).toEqual({ incoming: p.id, stored: p.id, checked: p.id });
      });
    });
  });
}

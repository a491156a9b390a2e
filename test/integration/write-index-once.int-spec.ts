import { randomUUID } from 'node:crypto';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { OWNER_PARAM } from '../../src/store/patient-compartment.js';
import { extractSearchIndex } from '../../src/store/search/search-index.extractor.js';
import { MAX_STRING_CHARS } from '../../src/store/search/index-values.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { StoreError, StoreErrorCode } from '../../src/store/store.errors.js';
import { openTestStore, type TestStore } from '../support/test-store.js';

/**
 * Issue #13: a write extracts its version's search index once, when its access facts are read
 * (`accessFactsOf`); its scope (`lockForWrite`) and the rows written reuse that extraction when,
 * and only when, they carry the same content. These tests change the content between the facts
 * and the write, as anyone holding the resource could, and read back what the store wrote: the
 * rows are always those of the version written (the oracle: a fresh extraction of it). And a
 * record's first version is inserted without `ON CONFLICT`: texts indexed alike still write.
 */
describe('One index extraction per write, of exactly the content written (issue #13)', () => {
  let opened: TestStore;
  const registry = SearchParameterRegistry.fromProfiles();
  const facts = { careWindowDays: 30, withoutContext: true };

  beforeAll(async () => {
    opened = await openTestStore();
  });
  afterAll(() => opened.close());

  const vital = (patient: string, code: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-12-01T08:00:00+08:00',
    valueQuantity: { value: 67, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  });
  /** The version's reference and token rows as stored, sorted. */
  const storedRows = async (type: string, id: string) => ({
    references: (
      await opened.db.query<{ param: string; target_type: string; target_id: string }>(
        'SELECT param, target_type, target_id FROM fhir_search_reference WHERE resource_type = $1 AND resource_id = $2',
        [type, id],
      )
    )
      .map((r) => `${r.param} ${r.target_type}/${r.target_id}`)
      .sort(),
    tokens: (
      await opened.db.query<{ param: string; system: string; code: string }>('SELECT param, system, code FROM fhir_search_token WHERE resource_type = $1 AND resource_id = $2', [
        type,
        id,
      ])
    )
      .map((t) => `${t.param} ${t.system}|${t.code}`)
      .sort(),
  });
  /** The oracle: the rows a fresh extraction of the version gives, with its owner row. */
  const expectedRows = (version: Resource, owner?: string) => {
    const index = extractSearchIndex(version, registry.forType(version.resourceType));
    return {
      references: [...index.references.map((r) => `${r.param} ${r.targetType}/${r.targetId}`), ...(owner ? [`${OWNER_PARAM} Patient/${owner}`] : [])].sort(),
      tokens: index.tokens.map((t) => `${t.param} ${t.system}|${t.code}`).sort(),
    };
  };

  it('a version changed after its facts were read is written with its own rows, not those of its facts', async () => {
    const [before, after] = [randomUUID(), randomUUID()];
    const incoming = vital(before, '8867-4');
    expect((await opened.store.accessFactsOf(incoming, facts)).patient).toBe(before);
    // The same object, changed in place before the write.
    incoming.subject = { reference: `Patient/${after}` };
    incoming.code = { coding: [{ system: 'http://loinc.org', code: '8480-6' }] };
    const { resource: stored } = await opened.store.create(incoming);
    const rows = await storedRows('Observation', stored.id as string);
    expect(rows).toEqual(expectedRows(stored, after));
    expect(rows.references).toContain(`${OWNER_PARAM} Patient/${after}`);
    expect(rows.references.join()).not.toContain(before);
    expect(rows.tokens).toContain('code http://loinc.org|8480-6');
    expect(rows.tokens).not.toContain('code http://loinc.org|8867-4');
    expect(await opened.ids('Observation', `patient=${after}&code=8480-6`)).toEqual([stored.id]);
    expect(await opened.ids('Observation', `patient=${before}`)).toEqual([]);
  });

  it('an unchanged version reuses its facts\' extraction and writes the same rows a fresh one gives, its stamp included', async () => {
    const patient = randomUUID();
    const incoming = vital(patient, '8867-4');
    await opened.store.accessFactsOf(incoming, facts);
    const { resource: stored } = await opened.store.create(incoming);
    expect(await storedRows('Observation', stored.id as string)).toEqual(expectedRows(stored, patient));
    expect(await opened.ids('Observation', `patient=${patient}&code=8867-4&_id=${stored.id}`)).toEqual([stored.id]);
    // An update of it: the facts on the request's object, the write on the PUT's copy of it.
    const changed = { ...stored, status: 'amended' } as Observation & { id: string };
    await opened.store.accessFactsOf(changed, facts);
    const { resource: next } = await opened.store.update({ ...changed });
    expect(next.meta?.versionId).toBe('2');
    expect(await storedRows('Observation', stored.id as string)).toEqual(expectedRows(next, patient));
    expect(await opened.ids('Observation', `_id=${stored.id}&status=amended`)).toEqual([stored.id]);
  });

  it('the scope a write locks is that of the version judged, not of an earlier content with the same facts object', async () => {
    const [first, second] = [randomUUID(), randomUUID()];
    const incoming = vital(first, '8867-4');
    await opened.store.accessFactsOf(incoming, facts);
    const judged = { ...incoming, subject: { reference: `Patient/${second}` } };
    const scope = await opened.store.transaction((tx) => tx.lockForWrite(judged, 'create'));
    expect(scope.patient).toBe(second);
    expect(scope.patients).toEqual([second]);
    // And the same content as the facts: their extraction, the same scope as a fresh one.
    const same = await opened.store.transaction((tx) => tx.lockForWrite({ ...incoming }, 'create'));
    expect([same.patient, same.patients]).toEqual([first, [first]]);
  });

  it('a first version whose texts are indexed alike is written (no ON CONFLICT needed): one row per key, the first text kept', async () => {
    const long = 'x'.repeat(MAX_STRING_CHARS);
    const family = randomUUID();
    const patient: Patient = {
      resourceType: 'Patient',
      name: [{ family, given: ['Café', 'cafe', 'CAFE'] }, { family, given: [`${long}1`, `${long}2`] }],
      identifier: [{ system: 'urn:x', value: family }, { system: 'urn:x', value: family }],
    };
    await opened.store.accessFactsOf(patient, facts);
    const { resource: created } = await opened.store.create(patient);
    const given = await opened.db.query<{ value: string; exact: string }>(
      `SELECT value, exact FROM fhir_search_string WHERE resource_type = 'Patient' AND resource_id = $1 AND param = 'given' ORDER BY value`,
      [created.id],
    );
    expect(given).toEqual([
      { value: 'cafe', exact: 'Café' },
      { value: long, exact: `${long}1` },
    ]);
    expect(await opened.ids('Patient', `given:exact=Café&family=${family}`)).toEqual([created.id]);
    // A PUT that creates writes a first version too; a later version keeps its shared rows.
    const id = randomUUID();
    const put = await opened.store.update({ ...patient, id });
    expect(put.created).toBe(true);
    const next = await opened.store.update({ ...patient, id, gender: 'female' });
    expect(next.resource.meta?.versionId).toBe('2');
    expect((await opened.ids('Patient', `family=${family}&gender=female`)).sort()).toEqual([id]);
  });

  it('a create on a taken id is refused as a conflict, its index rows not attempted', async () => {
    const { resource: first } = await opened.store.create(vital(randomUUID(), '8867-4'));
    const again = opened.store.create(vital(randomUUID(), '8480-6'), { assignedId: first.id });
    await expect(again).rejects.toBeInstanceOf(StoreError);
    await expect(again).rejects.toMatchObject({ code: StoreErrorCode.Conflict });
    expect((await storedRows('Observation', first.id as string)).tokens).toContain('code http://loinc.org|8867-4');
    expect((await storedRows('Observation', first.id as string)).tokens).not.toContain('code http://loinc.org|8480-6');
  });
});

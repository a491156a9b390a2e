import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Observation, Patient, Resource, SearchParameter } from '@medplum/fhirtypes';
import { corpusText, r4ResourceTypes, type CorpusSubjects } from '../../../test/support/r4-corpus.js';
import { packageRoot } from '../../common/package-root.js';
import { loadR4Definitions } from '../fhir-definitions.js';
import { INDEX_TABLES } from '../postgres/index-tables.js';
import { MAX_STRING_CHARS } from './index-values.js';
import { extractSearchIndex, MEMO_BOUNDS, readsStamp, SearchIndexMemo, type SearchIndex } from './search-index.extractor.js';
import { SearchParameterRegistry, type SearchParamDef } from './search-parameter.registry.js';

/**
 * Issue #13: a write extracts its version's search index once (`SearchIndexMemo`), for its
 * access facts, and its scope and its rows reuse that extraction; and a record's first version
 * inserts its rows without `ON CONFLICT`, which holds only if no two rows share a table key.
 * The oracle is a fresh extraction of the very object written: whatever the memo hands out
 * must equal it, and a content changed in between must never get the rows of the old one.
 */
describe('SearchIndexMemo: one extraction per write, of exactly the content written', () => {
  const registry = SearchParameterRegistry.fromProfiles();
  let memo: SearchIndexMemo;
  beforeAll(() => loadR4Definitions());
  beforeEach(() => (memo = new SearchIndexMemo((type) => registry.forType(type))));

  const fresh = (r: Resource) => extractSearchIndex(r, registry.forType(r.resourceType));
  /** What the store does to a version before writing it (`PostgresFhirStore.stamp`). */
  const stamp = <T extends Resource>(r: T, id: string, version: number): T => ({
    ...r,
    id,
    meta: { ...r.meta, versionId: String(version), lastUpdated: new Date(Date.UTC(2026, 0, version)).toISOString() },
  });
  const heartRate = (patient: string, code = '8867-4'): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code, display: 'Heart rate' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2024-03-05T10:07:00Z',
    valueQuantity: { value: 67, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  });

  it('hands the facts\' extraction to the stamped version: the same rows, not extracted again', () => {
    const incoming = heartRate('p1');
    const remembered = memo.remember(incoming);
    const stored = stamp(incoming, 'o1', 1);
    const recalled = memo.recall(stored) as SearchIndex;
    expect(recalled).toEqual(fresh(stored));
    // The very row objects of the first extraction: reused, not recomputed.
    expect(recalled.tokens[0]).toBe(remembered.tokens[0]);
    expect(recalled.quantities[0]).toBe(remembered.quantities[0]);
    // A PUT's copy with its id, a Bundle entry's assigned id, a client's own stale meta: the stamp aside, the same content.
    expect(memo.recall({ ...incoming, id: 'assigned', meta: { versionId: '7', lastUpdated: '2020-01-01T00:00:00Z' } } as Observation)?.tokens[0]).toBe(
      remembered.tokens[0],
    );
  });

  it('a content changed after its facts were read is extracted again: the rows written are its own', () => {
    const incoming = heartRate('p1');
    memo.remember(incoming);
    // The same object, changed in place (what a service or a Bundle's reference rewrite could do).
    incoming.subject = { reference: 'Patient/p2' };
    (incoming.code.coding as { code: string }[])[0].code = '8480-6';
    const stored = stamp(incoming, 'o1', 1);
    expect(memo.recall(stored)).toBeUndefined();
    const written = memo.indexOf(stored);
    expect(written).toEqual(fresh(stored));
    expect(written.references).toContainEqual({ param: 'patient', targetType: 'Patient', targetId: 'p2' });
    expect(written.references).not.toContainEqual({ param: 'patient', targetType: 'Patient', targetId: 'p1' });
    expect(written.tokens.map((t) => t.code)).toContain('8480-6');
    expect(written.tokens.map((t) => t.code)).not.toContain('8867-4');
  });

  it('meta beyond the stamp is content: a new security label or tag misses', () => {
    const labelled: Observation = { ...heartRate('p1'), meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] } };
    memo.remember(labelled);
    const restricted = { ...labelled, meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } };
    expect(memo.recall(stamp(restricted, 'o1', 1))).toBeUndefined();
    expect(memo.recall({ ...labelled, meta: { ...labelled.meta, tag: [{ code: 'x' }] } })).toBeUndefined();
    expect(memo.recall(heartRate('p1'))).toBeUndefined(); // no label at all
    expect(memo.recall(stamp(labelled, 'o1', 3))).toEqual(fresh(stamp(labelled, 'o1', 3)));
  });

  it('what it hands out is the caller\'s: an owner row pushed into one index is in no other, and the shared rows are frozen', () => {
    const incoming = heartRate('p1');
    const facts = memo.remember(incoming);
    facts.references.push({ param: '_patient', targetType: 'Patient', targetId: 'p1' });
    const written = memo.recall(incoming) as SearchIndex;
    expect(written.references).toEqual(fresh(incoming).references);
    expect(() => {
      (written.tokens[0] as { code: string }).code = 'changed';
    }).toThrow(TypeError);
  });

  it('indexOf of a content it was not told about extracts it and keeps nothing', () => {
    const once = heartRate('p3');
    expect(memo.indexOf(once)).toEqual(fresh(once));
    expect(memo.recall(once)).toBeUndefined();
  });

  it(`keeps the ${MEMO_BOUNDS.entries} latest contents, not more`, () => {
    const contents = Array.from({ length: MEMO_BOUNDS.entries + 1 }, (_, i) => heartRate(`p${i}`));
    for (const c of contents) memo.remember(c);
    expect(memo.recall(contents[0])).toBeUndefined();
    expect(memo.recall(contents[1])).toEqual(fresh(contents[1]));
    expect(memo.recall(contents[MEMO_BOUNDS.entries])).toEqual(fresh(contents[MEMO_BOUNDS.entries]));
    const huge: Patient = { resourceType: 'Patient', text: { status: 'generated', div: `<div>${'x'.repeat(MEMO_BOUNDS.chars / 8)}</div>` } };
    memo.remember(huge);
    expect(memo.recall(huge)).toBeUndefined();
    expect(memo.recall(contents[1])).toBeDefined(); // a content too long to keep evicts nothing
  });

  describe('a type with a parameter on a stamped member is never kept', () => {
    const definitions = (JSON.parse(readFileSync(join(packageRoot(), 'fhir-profiles', 'search-parameters.json'), 'utf8')) as Bundle<SearchParameter>).entry?.map(
      (e) => e.resource as SearchParameter,
    ) as SearchParameter[];
    const custom = (code: string, type: SearchParameter['type'], expression: string): SearchParameter => ({
      resourceType: 'SearchParameter',
      url: `http://example.org/SearchParameter/${code}`,
      name: code,
      status: 'active',
      description: code,
      code,
      base: ['Observation'],
      type,
      expression,
    });
    const extended = new SearchParameterRegistry([
      ...definitions,
      custom('logical-id', 'token', 'Observation.id'),
      custom('version-stamp', 'date', 'Observation.meta.lastUpdated'),
    ]);

    it('its index is extracted from the version as stamped', () => {
      const stamped = new SearchIndexMemo((type) => extended.forType(type));
      const incoming = heartRate('p1');
      stamped.remember(incoming);
      const stored = stamp(incoming, 'o9', 2);
      expect(stamped.recall(stored)).toBeUndefined();
      const written = stamped.indexOf(stored);
      expect(written.tokens).toContainEqual({ param: 'logical-id', system: '', code: 'o9' });
      expect(written.dates).toContainEqual({ param: 'version-stamp', low: '2026-01-02T00:00:00.000Z', high: '2026-01-02T00:00:00.000Z' });
      // Another type of the same registry, whose parameters read no stamp, is still kept.
      const patient: Patient = { resourceType: 'Patient', name: [{ family: 'Li' }] };
      stamped.remember(patient);
      expect(stamped.recall(stamp(patient, 'p1', 1))).toEqual(extractSearchIndex(patient, extended.forType('Patient')));
    });
  });

  it('judges which parameters read a stamped member, erring towards yes', () => {
    const param = (expression: string, type: SearchParamDef['type'] = 'token', components?: string[]): SearchParamDef => ({
      code: 'x',
      type,
      expression,
      atoms: [],
      targets: [],
      url: 'x',
      components: components?.map((e) => ({ type: 'token', expression: e, atoms: [] })),
    });
    for (const reads of [
      'Observation.id',
      'Observation.meta.lastUpdated',
      'Observation.meta.versionId',
      'Observation.meta',
      'Observation.descendants().code',
      'Observation.children()',
      'Observation',
      '(Observation)',
      'Observation.where(status = \'final\')',
      'Observation.code | Observation.select(id)',
      '%resource.code',
      'Observation.subject.resolve().id',
    ]) {
      expect([reads, readsStamp(param(reads))]).toEqual([reads, true]);
    }
    expect(readsStamp(param('Observation', 'composite', ['$this']))).toBe(true);
    expect(readsStamp(param('Observation', 'composite', ['iif(true, code, code)']))).toBe(true);
    for (const safe of ['Observation.code', 'Observation.meta.security', 'Observation.meta.tag', '(Observation.value as Quantity)', 'Observation.subject.where(resolve() is Patient)', 'Observation.identifier']) {
      expect([safe, readsStamp(param(safe))]).toEqual([safe, false]);
    }
    expect(readsStamp(param('Observation', 'composite', ['code', 'value.as(Quantity)']))).toBe(false);
    // No R4 parameter does: every type is kept.
    const reading = registry.indexedTypes().flatMap((t) => registry.forType(t).filter(readsStamp).map((p) => `${t}.${p.code}`));
    expect(reading).toEqual([]);
  });

  describe('over the R4 corpus (one resource of every type)', () => {
    const SUBJECTS: CorpusSubjects = { run: 'r13', patient: 'p1', encounter: 'e1', practitioner: 'pr1', organization: 'o1' };
    const corpus = () => r4ResourceTypes().map((type) => JSON.parse(corpusText(type, SUBJECTS)) as Resource);

    it('the stamped version gets exactly the rows a fresh extraction of it gives', () => {
      let rows = 0;
      for (const resource of corpus()) {
        memo.remember(resource);
        const stored = stamp(resource, `${resource.resourceType.toLowerCase()}-1`, 2);
        const recalled = memo.recall(stored);
        expect([resource.resourceType, recalled]).toEqual([resource.resourceType, fresh(stored)]);
        rows += Object.values(fresh(stored)).flat().length;
      }
      expect(rows).toBeGreaterThan(500); // not a vacuous corpus (834 rows over 146 types)
    });

    it('no two rows of a version share their table\'s key (a first version is inserted without ON CONFLICT)', () => {
      const extra: Resource[] = [
        { resourceType: 'Patient', name: [{ family: 'Café' }, { family: 'cafe' }, { family: 'CAFÉ ' }] } as Patient,
        { resourceType: 'Patient', name: [{ family: `${'a'.repeat(MAX_STRING_CHARS)}1` }, { family: `${'a'.repeat(MAX_STRING_CHARS)}2` }] } as Patient,
        { ...heartRate('p1'), valueQuantity: { value: 1.5, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } },
        { ...heartRate('p1'), effectivePeriod: { start: '2024-03-05T10:00:00+08:00', end: '2024-03-05T02:00:00Z' } },
      ];
      for (const resource of [...corpus(), ...extra]) {
        const index = fresh(resource);
        for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
          const { fields, keyCount } = INDEX_TABLES[kind];
          const keys = (index[kind] as unknown as Record<string, unknown>[]).map((row) => JSON.stringify(fields.slice(0, keyCount).map((f) => row[f])));
          expect([resource.resourceType, kind, keys.length]).toEqual([resource.resourceType, kind, new Set(keys).size]);
        }
      }
    });
  });

  it('of texts normalised or cut alike, the first is indexed, as the table kept it', () => {
    const alike = fresh({ resourceType: 'Patient', name: [{ family: 'Café' }, { family: 'cafe' }] } as Patient).strings.filter((s) => s.param === 'family');
    expect(alike).toEqual([{ param: 'family', value: 'cafe', exact: 'Café' }]);
    const long = 'a'.repeat(MAX_STRING_CHARS);
    const cut = fresh({ resourceType: 'Patient', name: [{ family: `${long}1` }, { family: `${long}2` }] } as Patient).strings.filter((s) => s.param === 'family');
    expect(cut).toEqual([{ param: 'family', value: long, exact: `${long}1` }]);
  });
});

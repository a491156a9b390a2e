import type { Observation, Patient } from '@medplum/fhirtypes';
import { numberLexemes, resourceText, storedText, withStoredText } from '../common/fhir-json-text.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { parseSearchRequest } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { subset, subsetResult, subsetStored, subsettingOf, SUBSETTED } from './subsetting.js';

/** A resource as the store returns it: carrying the text it was stored as. */
const stored = <T extends object>(text: string): T => withStoredText(JSON.parse(text) as T, text);

const OBSERVATION =
  '{"resourceType":"Observation","id":"o1","meta":{"versionId":"2","lastUpdated":"2025-01-01T00:00:00.000Z"},"text":{"status":"generated","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">血糖</div>"},"status":"final","category":[{"text":"laboratory"}],"code":{"text":"血糖"},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":1.50,"unit":"mmol/L"},"note":[{"text":"空腹"}],"interpretation":[{"text":"N"}]}';

describe('_elements and _summary (R4 search.html#elements, #summary; issue #16)', () => {
  it('_elements keeps the named top-level elements, the mandatory ones, id and meta, and tags the part SUBSETTED', () => {
    const part = subset(stored<Observation>(OBSERVATION), { elements: ['id', 'note'] });
    // status and code are mandatory (min 1) in R4 Observation.
    expect(Object.keys(part)).toEqual(['resourceType', 'id', 'meta', 'status', 'code', 'note']);
    expect(part.meta?.tag).toEqual([SUBSETTED]);
    expect(part.meta?.versionId).toBe('2');
  });

  it('a choice element is named without its type (value takes valueQuantity), and the part keeps the stored lexemes', () => {
    const part = subset(stored<Observation>(OBSERVATION), { elements: ['value'] });
    expect(part.valueQuantity).toEqual({ value: 1.5, unit: 'mmol/L' });
    const text = storedText(part) as string;
    expect(text).toContain('"valueQuantity":{"value":1.50,"unit":"mmol/L"}');
    expect(text.startsWith('{"resourceType":"Observation","id":"o1","meta":{"versionId":"2","lastUpdated":"2025-01-01T00:00:00.000Z","tag":[')).toBe(true);
    expect(JSON.parse(text)).toEqual(part);
  });

  it('a primitive\'s extension goes with it: _elements=birthDate keeps _birthDate', () => {
    const birthTime = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1970-03-30T14:30:00+08:00' }] };
    const patient = { resourceType: 'Patient', id: 'p', birthDate: '1970-03-30', _birthDate: birthTime, gender: 'male' } as Patient;
    const part = subset(patient, { elements: ['birthDate'] }) as Patient & { _birthDate?: unknown };
    expect(part._birthDate).toEqual(birthTime);
    expect(part.gender).toBeUndefined();
    // No stored text to take lexemes from: the part still gets a text of its own.
    expect(JSON.parse(storedText(part) as string)).toEqual(part);
  });

  it('_summary=true keeps the elements the StructureDefinition marks isSummary', () => {
    const part = subset(stored<Observation>(OBSERVATION), { summary: 'true' });
    expect(Object.keys(part)).toEqual(['resourceType', 'id', 'meta', 'status', 'code', 'subject', 'valueQuantity']);
  });

  it('_summary=text keeps text, id, meta and the mandatory elements; _summary=data drops text only', () => {
    expect(Object.keys(subset(stored<Observation>(OBSERVATION), { summary: 'text' }))).toEqual(['resourceType', 'id', 'meta', 'text', 'status', 'code']);
    const data = subset(stored<Observation>(OBSERVATION), { summary: 'data' });
    expect(Object.keys(data)).toEqual(['resourceType', 'id', 'meta', 'status', 'category', 'code', 'subject', 'valueQuantity', 'note', 'interpretation']);
    expect(data.meta?.tag).toEqual([SUBSETTED]);
  });

  it('_summary=false and count, or nothing asked, leave the resource itself (and its stored text) alone', () => {
    const whole = stored<Observation>(OBSERVATION);
    expect(subset(whole, { summary: 'false' })).toBe(whole);
    expect(subset(whole, { summary: 'count' })).toBe(whole);
    expect(subset(whole, {})).toBe(whole);
    expect(storedText(whole)).toBe(OBSERVATION);
  });

  it('a part never carries the whole\'s text, and the SUBSETTED tag is added once', () => {
    const whole = stored<Observation>(OBSERVATION);
    const part = subset(whole, { elements: ['status'] });
    expect(storedText(part)).not.toBe(OBSERVATION);
    expect(subset(part, { elements: ['status'] }).meta?.tag).toEqual([SUBSETTED]);
    expect(whole.meta?.tag).toBeUndefined();
  });

  it('subsets a search\'s matches and included resources; a read\'s stored text becomes the part\'s text', () => {
    const result = subsetResult({ matches: [stored(OBSERVATION)], included: [stored('{"resourceType":"Patient","id":"p1","gender":"male","birthDate":"1970-01-01"}')], total: 1 }, { elements: ['id'] });
    expect(result.matches[0]).toEqual(expect.objectContaining({ id: 'o1', meta: expect.objectContaining({ tag: [SUBSETTED] }) }));
    expect(result.included[0]).toEqual({ resourceType: 'Patient', id: 'p1', meta: { tag: [SUBSETTED] } });
    expect(result.total).toBe(1);
    const read = { json: OBSERVATION, versionId: '2', lastUpdated: '2025-01-01T00:00:00.000Z' };
    const { json, versionId } = subsetStored(read, { summary: 'true' });
    expect(json).toBe(resourceText(JSON.parse(json) as object, numberLexemes(OBSERVATION)));
    expect(json).toContain('"value":1.50');
    expect(versionId).toBe('2');
    expect(subsetStored(read, undefined)).toBe(read);
  });

  it('reads take _elements and _summary from the query, parsed as a search parses them: the same values refused with the same 400', () => {
    expect(subsettingOf([['_elements', 'id, status'], ['_elements', 'code'], ['_format', 'json']])).toEqual({ elements: ['id', 'status', 'code'] });
    expect(subsettingOf([['_summary', 'text']])).toEqual({ summary: 'text' });
    expect(subsettingOf([['_summary', 'false']])).toBeUndefined();
    expect(subsettingOf([])).toBeUndefined();
    const registry = SearchParameterRegistry.fromProfiles();
    const refusal = (f: () => unknown): StoreError | undefined => {
      try {
        f();
      } catch (e) {
        return e as StoreError;
      }
      return undefined;
    };
    const bads: [string, string][][] = [
      [['_summary', 'yes']],
      [['_summary', 'true'], ['_summary', 'text']],
      [['_elements', 'Observation.status']],
      [['_elements', 'value[x]']],
      [['_elements', ',']],
    ];
    for (const bad of bads) {
      const read = refusal(() => subsettingOf(bad));
      const search = refusal(() => parseSearchRequest('Observation', bad, registry, { defaultCount: 20, maxCount: 100, lenient: false }));
      expect([read?.code, read?.answer.status, read?.answer.issue]).toEqual([StoreErrorCode.InvalidSearch, 400, 'invalid']);
      expect([search?.code, search?.answer.status, search?.message]).toEqual([read?.code, read?.answer.status, read?.message]);
    }
    // `count` is a search's alone.
    expect(refusal(() => subsettingOf([['_summary', 'count']]))?.answer).toEqual({ status: 400, issue: 'invalid' });
  });

  it('_summary=true keeps what changes the meaning of the rest: modifierExtension and implicitRules', () => {
    const modified = {
      resourceType: 'Observation',
      id: 'o1',
      implicitRules: 'http://hospital.test/rules',
      modifierExtension: [{ url: 'http://hospital.test/refuted', valueBoolean: true }],
      status: 'final',
      code: { text: 'x' },
      note: [{ text: 'not in the summary' }],
    } as Observation;
    const part = subset(modified, { summary: 'true' }) as unknown as Record<string, unknown>;
    expect(Object.keys(part).sort()).toEqual(['code', 'id', 'implicitRules', 'meta', 'modifierExtension', 'resourceType', 'status']);
    expect(Object.keys(subset(modified, { elements: ['status'] })).sort()).toEqual(['code', 'id', 'implicitRules', 'meta', 'modifierExtension', 'resourceType', 'status']);
  });
});

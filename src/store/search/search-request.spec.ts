import { SearchParameterRegistry } from './search-parameter.registry.js';
import { parseSearchRequest } from './search-request.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';

const registry = SearchParameterRegistry.fromProfiles();
const parse = (type: string, query: string, lenient = false) =>
  parseSearchRequest(type, [...new URLSearchParams(query).entries()], registry, { defaultCount: 20, maxCount: 1000, lenient });

describe('parseSearchRequest', () => {
  it('parses token, string, reference and date criteria with their modifiers and prefixes', () => {
    const r = parse('Observation', 'code=http://loinc.org|8867-4,1234&subject:Patient=p1&date=ge2024-01-01&date=lt2024-02');
    expect(r.criteria).toHaveLength(4);
    expect(r.criteria[0].values).toEqual([
      { kind: 'token', system: 'http://loinc.org', code: '8867-4' },
      { kind: 'token', code: '1234' },
    ]);
    expect(r.criteria[1].values).toEqual([{ kind: 'reference', targetType: 'Patient', targetId: 'p1' }]);
    expect(r.criteria[2].values[0]).toMatchObject({ kind: 'date', prefix: 'ge' });
    expect(r.criteria[3].values[0]).toMatchObject({ kind: 'date', prefix: 'lt' });
  });

  it('infers the target type of a single-target reference parameter', () => {
    expect(parse('Observation', 'patient=123').criteria[0].values).toEqual([{ kind: 'reference', targetType: 'Patient', targetId: '123' }]);
  });

  it('normalises string values unless :exact', () => {
    expect(parse('Patient', 'name=Müller').criteria[0].values).toEqual([{ kind: 'string', value: 'muller' }]);
    expect(parse('Patient', 'name:exact=Müller').criteria[0].values).toEqual([{ kind: 'string', value: 'Müller' }]);
  });

  it('honours escaped commas as part of a value', () => {
    expect(parse('Patient', 'family=a\\,b').criteria[0].values).toEqual([{ kind: 'string', value: 'a,b' }]);
  });

  it('applies paging defaults and caps _count at the maximum', () => {
    expect(parse('Patient', '').count).toBe(20);
    expect(parse('Patient', '_count=5000').count).toBe(1000);
    expect(parse('Patient', '_offset=40').offset).toBe(40);
    expect(parse('Patient', '').sort).toEqual([{ key: '_lastUpdated', descending: false }]);
  });

  it('parses _sort on date parameters, _include and _revinclude', () => {
    const r = parse('Observation', '_sort=-date,_id&_include=Observation:patient&_revinclude=Provenance:target');
    expect(r.sort.map((s) => [typeof s.key === 'string' ? s.key : s.key.code, s.descending])).toEqual([['date', true], ['_id', false]]);
    expect(r.include).toEqual([{ sourceType: 'Observation', param: 'patient', targetType: undefined }]);
    expect(r.revinclude).toEqual([{ sourceType: 'Provenance', param: 'target', targetType: undefined }]);
  });

  it.each([
    ['unknown parameter', 'Patient', 'shoe-size=42', StoreErrorCode.UnknownSearchParameter],
    ['chained parameter', 'Observation', 'subject.name=x', StoreErrorCode.InvalidSearch],
    ['_has', 'Patient', '_has:Observation:patient:code=1', StoreErrorCode.InvalidSearch],
    ['bad date', 'Patient', 'birthdate=yesterday', StoreErrorCode.InvalidSearch],
    ['bad _count', 'Patient', '_count=-1', StoreErrorCode.InvalidSearch],
    ['sort on a non-date parameter', 'Patient', '_sort=name', StoreErrorCode.InvalidSearch],
    ['unsupported modifier', 'Patient', 'gender:text=male', StoreErrorCode.InvalidSearch],
    ['_include of a non-reference', 'Observation', '_include=Observation:code', StoreErrorCode.InvalidSearch],
    ['_summary other than count', 'Patient', '_summary=true', StoreErrorCode.InvalidSearch],
  ])('refuses %s rather than answering another question', (_what, type, query, code) => {
    expect(() => parse(type, query)).toThrow(StoreError);
    try {
      parse(type, query);
    } catch (e) {
      expect((e as StoreError).code).toBe(code);
    }
  });

  it('ignores unknown parameters only when lenient, and leaves them out of the used list', () => {
    const r = parse('Patient', 'shoe-size=42&gender=male', true);
    expect(r.criteria).toHaveLength(1);
    expect(r.used).toEqual([['gender', 'male']]);
  });
});

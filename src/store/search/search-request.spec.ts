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

  it('splits a token, quantity or composite at its own unescaped separators only (R4 search.html#escaping)', () => {
    expect(parse('Observation', 'identifier=urn:a\\|b|c\\$d\\,e').criteria[0].values).toEqual([{ kind: 'token', system: 'urn:a|b', code: 'c$d,e' }]);
    expect(parse('Observation', 'value-quantity=5.4||mmol\\|L').criteria[0].values[0]).toMatchObject({ kind: 'quantity', code: 'mmol|L' });
    expect(parse('Observation', 'code-value-string=urn:x|a\\$b$text\\$more').criteria[0].values).toEqual([
      { kind: 'composite', parts: [{ kind: 'token', system: 'urn:x', code: 'a$b' }, { kind: 'string', value: 'text$more' }] },
    ]);
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
    ['unsupported modifier', 'Patient', 'gender:in=http://hl7.org/fhir/ValueSet/administrative-gender', StoreErrorCode.InvalidSearch],
    [':not on a string parameter', 'Patient', 'name:not=li', StoreErrorCode.InvalidSearch],
    [':below on a token parameter (no terminology)', 'Observation', 'code:below=8480', StoreErrorCode.InvalidSearch],
    [':text on a uri parameter', 'ValueSet', 'url:text=x', StoreErrorCode.InvalidSearch],
    ['a modifier on a quantity parameter', 'Observation', 'value-quantity:exact=5', StoreErrorCode.InvalidSearch],
    ['a number that is not one', 'RiskAssessment', 'probability=gtabc', StoreErrorCode.InvalidSearch],
    ['a quantity without a number', 'Observation', 'value-quantity=|http://unitsofmeasure.org|mg', StoreErrorCode.InvalidSearch],
    ['a quantity with a system but no code', 'Observation', 'value-quantity=5|http://unitsofmeasure.org', StoreErrorCode.InvalidSearch],
    ['a composite with one component', 'Observation', 'code-value-quantity=http://loinc.org|8480-6', StoreErrorCode.InvalidSearch],
    ['a composite whose quantity is not one', 'Observation', 'code-value-quantity=8480-6$high', StoreErrorCode.InvalidSearch],
    ['the special parameter near', 'Location', 'near=42.25|-83.69|11.2|km', StoreErrorCode.UnknownSearchParameter],
    ['a three-component composite', 'MolecularSequence', 'chromosome-window-coordinate=1$ge100$lt200', StoreErrorCode.UnknownSearchParameter],
    ['_elements that are not element names', 'Patient', '_elements=name,birthDate;drop', StoreErrorCode.InvalidSearch],
    ['_include of a non-reference', 'Observation', '_include=Observation:code', StoreErrorCode.InvalidSearch],
    ['_summary that R4 does not define', 'Patient', '_summary=sometimes', StoreErrorCode.InvalidSearch],
  ])('refuses %s rather than answering another question', (_what, type, query, code) => {
    expect(() => parse(type, query)).toThrow(StoreError);
    try {
      parse(type, query);
    } catch (e) {
      expect((e as StoreError).code).toBe(code);
    }
  });

  it('parses number and quantity values with their prefixes as the ranges their precision implies', () => {
    expect(parse('RiskAssessment', 'probability=gt0.5,100').criteria[0].values).toEqual([
      { kind: 'number', prefix: 'gt', range: { low: '0.45', high: '0.55' } },
      { kind: 'number', prefix: 'eq', range: { low: '99.5', high: '100.5' } },
    ]);
    const [ucum, plain, bare] = parse('Observation', 'value-quantity=ge1.0|http://unitsofmeasure.org|g/L,5.4||mg,ap100').criteria[0].values;
    // g/L is g.m-3 × 1000: [0.95, 1.05) g/L is [950, 1050) g.m-3.
    expect(ucum).toEqual({
      kind: 'quantity',
      prefix: 'ge',
      range: { low: '0.95', high: '1.05' },
      system: 'http://unitsofmeasure.org',
      code: 'g/L',
      canonical: { code: 'g.m-3', low: '950', high: '1050' },
    });
    expect(plain).toEqual({ kind: 'quantity', prefix: 'eq', range: { low: '5.35', high: '5.45' }, code: 'mg' });
    expect(bare).toEqual({ kind: 'quantity', prefix: 'ap', range: { low: '90', high: '110' } });
  });

  it('parses a composite value as one value per component, each of its own type', () => {
    const r = parse('Observation', 'component-code-value-quantity=http://loinc.org|8480-6$gt100|http://unitsofmeasure.org|mm[Hg]');
    expect(r.criteria[0].values).toEqual([
      {
        kind: 'composite',
        parts: [
          { kind: 'token', system: 'http://loinc.org', code: '8480-6' },
          expect.objectContaining({ kind: 'quantity', prefix: 'gt', range: { low: '99.5', high: '100.5' }, canonical: expect.objectContaining({ code: 'g.m-1.s-2' }) }),
        ],
      },
    ]);
    expect(parse('Observation', 'code-value-concept=8302-2$LA6576-8').criteria[0].values[0]).toEqual({
      kind: 'composite',
      parts: [{ kind: 'token', code: '8302-2' }, { kind: 'token', code: 'LA6576-8' }],
    });
  });

  it('parses :not and :text on tokens and :above/:below on uris', () => {
    const [not, text] = parse('Observation', 'code:not=8480-6&code:text=Blood Préssure').criteria;
    expect([not.modifier, not.values]).toEqual(['not', [{ kind: 'token', code: '8480-6' }]]);
    expect([text.modifier, text.values]).toEqual(['text', [{ kind: 'string', value: 'blood pressure' }]]);
    const [above, below] = parse('ValueSet', 'url:above=http://acme.org/fhir/ValueSet/a&url:below=http://acme.org/fhir').criteria;
    expect([above.modifier, above.values]).toEqual(['above', [{ kind: 'token', code: 'http://acme.org/fhir/ValueSet/a' }]]);
    expect([below.modifier, below.values]).toEqual(['below', [{ kind: 'token', code: 'http://acme.org/fhir' }]]);
  });

  it('accepts _summary and _elements onto the request without acting on them, and ignores _format', () => {
    const r = parse('Patient', '_summary=text&_elements=name,birthDate&_elements=gender&_format=application/fhir+json');
    expect([r.summary, r.countOnly, r.elements]).toEqual(['text', false, ['name', 'birthDate', 'gender']]);
    expect(r.used).toEqual([['_summary', 'text'], ['_elements', 'name,birthDate'], ['_elements', 'gender']]);
    expect(parse('Patient', '_summary=count').countOnly).toBe(true);
    expect(parse('Patient', '_format=xml').criteria).toEqual([]);
  });

  it('names why a defined but unsupported parameter is refused, and lenient handling ignores it', () => {
    expect(() => parse('Location', 'near=42.25|-83.69|11.2|km')).toThrow('Search parameter near of Location is not supported: special parameters are not supported.');
    expect(parse('Location', 'near=42.25|-83.69|11.2|km', true).criteria).toEqual([]);
  });

  it('ignores unknown parameters only when lenient, and leaves them out of the used list', () => {
    const r = parse('Patient', 'shoe-size=42&gender=male', true);
    expect(r.criteria).toHaveLength(1);
    expect(r.used).toEqual([['gender', 'male']]);
  });

  describe('R-51: the size of a search is bounded before it is parsed or run', () => {
    const limits = { defaultCount: 20, maxCount: 1000, lenient: false, maxValuesPerParameter: 3, maxSearchParameters: 4 };
    const parseLimited = (type: string, pairs: [string, string][], lenient = false) => parseSearchRequest(type, pairs, registry, { ...limits, lenient });
    const refusal = (work: () => unknown): StoreError => {
      try {
        work();
      } catch (e) {
        return e as StoreError;
      }
      throw new Error('expected a refusal');
    };
    const repeat = (n: number, pair: (i: number) => [string, string]) => Array.from({ length: n }, (_, i) => pair(i));

    it('R-51: accepts exactly the limits (4 parameters, 3 OR values each)', () => {
      const r = parseLimited('Observation', [['code', 'a,b,c'], ['code', 'd'], ['_id', 'x,y,z'], ['_sort', '-date,_id,_lastUpdated']]);
      expect(r.criteria.map((c) => c.values.length)).toEqual([3, 1, 3]);
      expect(r.sort).toHaveLength(3);
    });

    it.each([
      ['a token parameter', ['code', 'a,b,c,d']],
      ['_id', ['_id', 'a,b,c,d']],
      ['_lastUpdated', ['_lastUpdated', 'ge2024,ge2025,ge2026,ge2027']],
      ['_sort', ['_sort', '_id,_lastUpdated,date,-date']],
      ['a reference with a type modifier', ['subject:Patient', 'a,b,c,d']],
      ['an unknown parameter (refused for its size before its name)', ['shoe-size', '1,2,3,4']],
    ] as [string, [string, string]][])('R-51: more OR values than allowed in %s → TooCostly naming the parameter and the limit', (_what, pair) => {
      const e = refusal(() => parseLimited('Observation', [pair]));
      expect(e).toBeInstanceOf(StoreError);
      expect(e.code).toBe(StoreErrorCode.SearchTooCostly);
      expect(e.message).toContain(pair[0]);
      expect(e.message).toMatch(/at most 3 per parameter \(maxValuesPerParameter\)/);
    });

    it('R-51: escaped commas and empty values do not count as values (as the criterion sees them)', () => {
      expect(parseLimited('Patient', [['family', 'a\\,b,c\\,d,e,,,']]).criteria[0].values).toHaveLength(3);
      expect(refusal(() => parseLimited('Patient', [['family', 'a\\,b,c,d,e']])).code).toBe(StoreErrorCode.SearchTooCostly);
    });

    it.each([
      ['repeats of one parameter', repeat(5, (i) => ['code', `c${i}`])],
      ['repeats with modifiers', repeat(5, (i) => [i % 2 ? 'subject:Patient' : 'subject', `p${i}`])],
      [
        'result parameters (_include, _sort, _count)',
        [['code', 'a'], ['_include', 'Observation:patient'], ['_include', 'Observation:encounter'], ['_sort', 'date'], ['_count', '5']],
      ],
      ['parameters that are ignored (_format, _pretty)', [['code', 'a'], ['_format', 'json'], ['_pretty', 'true'], ['_format', 'json'], ['_pretty', 'false']]],
    ] as [string, [string, string][]][])('R-51: more parameters than allowed, counting %s → TooCostly naming the limit', (_what, pairs) => {
      const e = refusal(() => parseLimited('Observation', pairs));
      expect(e.code).toBe(StoreErrorCode.SearchTooCostly);
      expect(e.message).toMatch(/carries 5 parameters; the server allows at most 4 per search \(maxSearchParameters/);
    });

    it('R-51: unknown parameters count even when lenient ignores them, and the size is judged before any name', () => {
      expect(refusal(() => parseLimited('Patient', repeat(5, (i) => [`shoe-size-${i}`, '1']), true)).code).toBe(StoreErrorCode.SearchTooCostly);
      expect(refusal(() => parseLimited('Patient', repeat(5, () => ['birthdate', 'yesterday']))).code).toBe(StoreErrorCode.SearchTooCostly);
    });

    it('R-51: without limits in the options, the documented defaults apply (FHIR_DEFAULTS: 100 values, 50 parameters)', () => {
      const values = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join(',');
      expect(parse('Observation', `code=${values(100)}`).criteria[0].values).toHaveLength(100);
      expect(refusal(() => parse('Observation', `code=${values(101)}`)).message).toContain('at most 100 per parameter');
      const repeats = (n: number) => Array.from({ length: n }, (_, i) => `code=c${i}`).join('&');
      expect(parse('Observation', repeats(50)).criteria).toHaveLength(50);
      expect(refusal(() => parse('Observation', repeats(51))).message).toContain('at most 50 per search');
    });
  });
});

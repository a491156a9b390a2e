import * as fc from 'fast-check';
import { withStoredText } from '../common/fhir-json-text.js';
import { fhirJson } from './fhir-response.js';

describe('Response bodies send stored texts as they are (issue #16)', () => {
  const text = '{"resourceType":"Observation","id":"o1","status":"final","valueQuantity":{"value":1.50}}';

  it('a resource read with its stored text is sent as that text', () => {
    expect(fhirJson(withStoredText(JSON.parse(text) as object, text))).toBe(text);
  });

  it('a Bundle is serialised around its entries\' texts, which are spliced in unchanged', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        { fullUrl: 'u1', resource: withStoredText(JSON.parse(text) as object, text), search: { mode: 'match' } },
        { fullUrl: 'u2', resource: { resourceType: 'Patient', id: 'p', note: 'cw-stored-text-0' } },
      ],
    };
    expect(fhirJson(bundle)).toBe(
      `{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"u1","resource":${text},"search":{"mode":"match"}},{"fullUrl":"u2","resource":{"resourceType":"Patient","id":"p","note":"cw-stored-text-0"}}]}`,
    );
  });

  it('a Bundle is written as JSON.stringify writes it, each stored text in its place, whatever the data holds; the Bundle is left as it was', () => {
    const anyValue = fc.jsonValue({ maxDepth: 3 });
    const resource = fc.record({ resourceType: fc.constantFrom('Observation', 'Patient'), id: fc.string(), extra: anyValue });
    const entry = fc.record({ fullUrl: fc.string(), resource: fc.tuple(resource, fc.boolean()), search: fc.option(fc.record({ mode: fc.string() }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), anyValue, (entries, note) => {
        // A stored text differs from JSON.stringify's in its key order: the splice must put the text itself.
        const stored = (r: { resourceType: string; id: string; extra: unknown }) => {
          const text = JSON.stringify({ extra: r.extra, id: r.id, resourceType: r.resourceType });
          return withStoredText(JSON.parse(text) as object, text);
        };
        const bundle = { resourceType: 'Bundle', type: 'searchset', note, entry: entries.map((e) => ({ ...e, resource: e.resource[1] ? stored(e.resource[0]) : e.resource[0] })) };
        const before = JSON.stringify(bundle);
        const written = fhirJson(bundle);
        expect(JSON.parse(written)).toEqual(JSON.parse(before));
        expect(JSON.stringify(bundle)).toBe(before);
        entries.forEach(({ resource: [r, isStored] }) => {
          if (isStored) expect(written).toContain(`"resource":${JSON.stringify({ extra: r.extra, id: r.id, resourceType: r.resourceType })}`);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('anything else is JSON.stringify\'s', () => {
    const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] };
    expect(fhirJson(outcome)).toBe(JSON.stringify(outcome));
    expect(fhirJson({ resourceType: 'Bundle', type: 'history', entry: [] })).toBe('{"resourceType":"Bundle","type":"history","entry":[]}');
  });
});

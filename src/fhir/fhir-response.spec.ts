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

  it('anything else is JSON.stringify\'s', () => {
    const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] };
    expect(fhirJson(outcome)).toBe(JSON.stringify(outcome));
    expect(fhirJson({ resourceType: 'Bundle', type: 'history', entry: [] })).toBe('{"resourceType":"Bundle","type":"history","entry":[]}');
  });
});

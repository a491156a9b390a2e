import { lexemesUnder, numberLexemes, resourceText, storedText, withStoredText } from './fhir-json-text.js';

/** What a store writes for a body sent as `text`: its parsed value, with the lexemes the text carries. */
const roundTrip = (text: string) => resourceText(JSON.parse(text) as object, numberLexemes(text));

describe('A resource as its sender wrote it (issue #16: key order and decimal precision)', () => {
  it('lists only the numbers JSON.stringify would write differently, by JSON pointer', () => {
    const text = '{"a":1.0,"b":[100,1.50,{"c":1e-30,"d":1E-30}],"e":-0.0,"f/g~":12345678901234567890,"h":1.5,"i":"x:1.0"}';
    expect(numberLexemes(text)).toEqual(
      new Map([
        ['/a', '1.0'],
        ['/b/1', '1.50'],
        ['/b/2/d', '1E-30'],
        ['/e', '-0.0'],
        ['/f~1g~0', '12345678901234567890'],
      ]),
    );
  });

  it('finds nothing in text whose numbers print as sent (times in strings are no numbers)', () => {
    expect(numberLexemes('{"a":100,"b":1.5,"c":1e-30,"d":"10:30:00Z","e":[0,-2]}')).toBeUndefined();
    expect(numberLexemes('{"effectiveDateTime":"2024-01-01T10:30:00+08:00","status":"final"}')).toBeUndefined();
    // A string that looks like a number token is a false hit: the exact parse finds no number to keep.
    expect(numberLexemes('{"note":"ratio 1:1.0]"}')).toBeUndefined();
  });

  it('writes resourceType, id and meta first, then the sender\'s key order, and keeps each lexeme', () => {
    const sent = '{"status":"final","valueQuantity":{"value":1.50,"unit":"mmol/L"},"resourceType":"Observation","component":[{"valueQuantity":{"value":1.0}},{"valueQuantity":{"value":1e-30}},{"valueQuantity":{"value":100}}],"id":"o1"}';
    expect(roundTrip(sent)).toBe(
      '{"resourceType":"Observation","id":"o1","status":"final","valueQuantity":{"value":1.50,"unit":"mmol/L"},"component":[{"valueQuantity":{"value":1.0}},{"valueQuantity":{"value":1e-30}},{"valueQuantity":{"value":100}}]}',
    );
  });

  it('writes a number the server changed as JSON.stringify does: a lexeme is kept only while it denotes the value', () => {
    const numbers = numberLexemes('{"resourceType":"Observation","valueQuantity":{"value":1.50}}');
    expect(resourceText({ resourceType: 'Observation', valueQuantity: { value: 2 } }, numbers)).toBe('{"resourceType":"Observation","valueQuantity":{"value":2}}');
    expect(resourceText({ resourceType: 'Observation', valueQuantity: { value: 1.5 } }, numbers)).toBe('{"resourceType":"Observation","valueQuantity":{"value":1.50}}');
  });

  it('without lexemes writes what JSON.stringify writes, resourceType first and undefined dropped', () => {
    const resource = { status: 'final', resourceType: 'Observation', id: 'x', note: undefined, meta: { versionId: '1' }, v: [1, 2] };
    expect(resourceText(resource)).toBe('{"resourceType":"Observation","id":"x","meta":{"versionId":"1"},"status":"final","v":[1,2]}');
    expect(resourceText(resource, new Map([['/v/0', '1.0']]))).toBe('{"resourceType":"Observation","id":"x","meta":{"versionId":"1"},"status":"final","v":[1.0,2]}');
  });

  it('keeps primitive extensions, contained resources and Chinese text as sent', () => {
    const sent =
      '{"resourceType":"Patient","birthDate":"1970-03-30","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1970-03-30T14:30:00+08:00"}]},"contained":[{"resourceType":"Observation","status":"final","valueQuantity":{"value":36.50}}],"name":[{"text":"张三"}]}';
    expect(roundTrip(sent)).toBe(sent);
  });

  it('re-roots the lexemes of a Bundle entry at its resource', () => {
    const numbers = numberLexemes('{"resourceType":"Bundle","entry":[{"resource":{"a":1.0}},{"resource":{"b":[2.50]}},{"resource":{"c":1}}]}');
    expect(lexemesUnder(numbers, '/entry/1/resource')).toEqual(new Map([['/b/0', '2.50']]));
    expect(lexemesUnder(numbers, '/entry/2/resource')).toBeUndefined();
    expect(lexemesUnder(undefined, '/entry/0/resource')).toBeUndefined();
    // `/entry/1` is no prefix of `/entry/10`.
    expect(lexemesUnder(new Map([['/entry/10/resource/a', '1.0']]), '/entry/1/resource')).toBeUndefined();
  });

  it('re-roots a number at the pointer itself to \'\' (a patch operation\'s value), and the numbers below it beside it', () => {
    const numbers = numberLexemes('[{"op":"add","path":"/valueQuantity/value","value":2.50},{"op":"add","path":"/valueQuantity","value":{"value":1.0}},{"op":"add","path":"/x","value":10.0}]');
    expect(lexemesUnder(numbers, '/0/value')).toEqual(new Map([['', '2.50']]));
    expect(lexemesUnder(numbers, '/1/value')).toEqual(new Map([['/value', '1.0']]));
    expect(lexemesUnder(numbers, '/1')).toEqual(new Map([['/value/value', '1.0']]));
    // `/0/value` is no prefix of `/0/values` or `/0/value2`.
    expect(lexemesUnder(new Map([['/0/values', '1.0'], ['/0/value2', '3.0']]), '/0/value')).toBeUndefined();
  });

  it('a key repeated with another value keeps no lexemes (JSON.parse takes the last; lossless-json refuses)', () => {
    expect(numberLexemes('{"a":1.0,"a":2.0}')).toBeUndefined();
  });

  it('remembers the text an object was read from, by the object', () => {
    const read = withStoredText({ resourceType: 'Patient' }, '{"resourceType":"Patient"}');
    expect(storedText(read)).toBe('{"resourceType":"Patient"}');
    expect(storedText({ resourceType: 'Patient' })).toBeUndefined();
    expect(storedText(null)).toBeUndefined();
  });
});

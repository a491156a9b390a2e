import { formatParameters, NotAcceptableError, refusedFormat } from './format-negotiation.js';
import { toErrorResponse } from './operation-outcome.mapper.js';

describe('format negotiation (R4 http.html#mime-type)', () => {
  const read = '/fhir/Patient/p1';

  it('_format json, application/json and application/fhir+json are honoured, whatever Accept says', () => {
    for (const format of ['json', 'application/json', 'application/fhir+json', 'application/json+fhir', 'JSON', 'application/fhir+json;fhirVersion=4.0']) {
      expect(refusedFormat(read, [format], 'application/fhir+xml')).toBeUndefined();
    }
  });

  it('an unencoded + in _format (read as a space) still means application/fhir+json', () => {
    expect(formatParameters('/fhir/Patient?_format=application/fhir+json')).toEqual(['application/fhir json']);
    expect(refusedFormat(read, formatParameters('/fhir/Patient?_format=application/fhir+json'), undefined)).toBeUndefined();
    expect(refusedFormat(read, formatParameters('/fhir/Patient?_format=application/fhir+xml'), undefined)).toContain('_format=application/fhir xml');
  });

  it('any other _format is refused, naming it: xml, turtle, html, junk, another FHIR version, one bad value among good ones', () => {
    for (const format of ['xml', 'application/fhir+xml', 'text/xml', 'ttl', 'text/turtle', 'html', 'text/html', 'junk', '', 'application/fhir+json;fhirVersion=3.0']) {
      expect(refusedFormat(read, [format], undefined)).toContain(`_format=${format}`);
    }
    expect(refusedFormat(read, ['json', 'xml'], undefined)).toContain('_format=xml');
  });

  it('Accept: absent, empty, */*, application/*, or anything admitting JSON answers JSON', () => {
    for (const accept of [
      undefined,
      '',
      '*/*',
      'application/*',
      'application/fhir+json',
      'application/json',
      'application/fhir+xml, application/fhir+json;q=0.1',
      'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'application/fhir+json; fhirVersion=4.0',
    ]) {
      expect(refusedFormat(read, [], accept)).toBeUndefined();
    }
  });

  it('Accept admitting no JSON is refused: XML only, HTML only, JSON with q=0, another FHIR version, garbage', () => {
    for (const accept of ['application/fhir+xml', 'text/html', 'application/fhir+json;q=0, application/xml', 'application/fhir+json; fhirVersion=3.0', 'text/*', 'garbage']) {
      expect(refusedFormat(read, [], accept)).toContain(`Accept: ${accept}`);
    }
  });

  it('$print produces a PDF: Accept: application/pdf is fine there and nowhere else', () => {
    expect(refusedFormat('/fhir/Composition/c1/$print', [], 'application/pdf')).toBeUndefined();
    expect(refusedFormat('/fhir/Composition/c1/$print', ['pdf'], undefined)).toBeUndefined();
    expect(refusedFormat(read, [], 'application/pdf')).toBeDefined();
    expect(refusedFormat('/fhir/Composition/c1/$print', [], 'application/fhir+xml')).toBeDefined();
  });

  it('the refusal answers 406 not-supported with its code', () => {
    const answer = toErrorResponse(new NotAcceptableError('no'));
    expect(answer.status).toBe(406);
    expect(answer.outcome.issue?.[0].code).toBe('not-supported');
    expect(answer.outcome.issue?.[0].details?.coding?.[0].code).toBe('fhir.not-acceptable');
  });
});

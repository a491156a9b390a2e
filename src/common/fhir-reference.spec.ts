import { parseReference } from './fhir-reference.js';

describe('parseReference: the record a FHIR reference names (R4 references.html#literal)', () => {
  it('reads the relative, absolute and versioned forms alike', () => {
    expect(parseReference('Observation/1')).toEqual({ type: 'Observation', id: '1' });
    expect(parseReference('http://his.example/fhir/Observation/a-1.2')).toEqual({ type: 'Observation', id: 'a-1.2' });
    expect(parseReference('Encounter/e1/_history/3')).toEqual({ type: 'Encounter', id: 'e1', version: '3' });
    expect(parseReference('https://his.example/fhir/MedicationRequest/m9/_history/v2')).toEqual({ type: 'MedicationRequest', id: 'm9', version: 'v2' });
  });

  it('names no record for a contained resource, a placeholder or text that is no reference', () => {
    expect(parseReference('#contained')).toBeUndefined();
    expect(parseReference('#Patient/p1')).toBeUndefined();
    expect(parseReference('urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427')).toBeUndefined();
    expect(parseReference('urn:example/Patient/p1')).toBeUndefined();
    expect(parseReference(undefined)).toBeUndefined();
    expect(parseReference('')).toBeUndefined();
    expect(parseReference('p1')).toBeUndefined();
    expect(parseReference('patient/p1')).toBeUndefined();
    expect(parseReference('Patient/p 1')).toBeUndefined();
    expect(parseReference(`Patient/${'x'.repeat(65)}`)).toBeUndefined();
    expect(parseReference('Patient/p1/_history/')).toBeUndefined();
  });
});

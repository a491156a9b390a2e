import type { Observation, Resource } from '@medplum/fhirtypes';
import { rewriteReferences, withReferencesRewritten } from './bundle-references.js';

const targets = new Map([
  ['urn:uuid:6f0d2b7e-0000-4000-8000-000000000001', 'Patient/p1'],
  ['urn:uuid:6f0d2b7e-0000-4000-8000-000000000002', 'Encounter/e1'],
]);

const observation = (subject: string, encounter: string): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
  encounter: { reference: encounter },
  performer: [{ reference: 'Practitioner/d1' }, { reference: 'urn:uuid:6f0d2b7e-0000-4000-8000-000000000001' }],
  valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

describe('a transaction\'s urn:uuid references (R4 http.html#trules), rewritten on a copy (issue #13)', () => {
  it('rewrites every reference naming an entry, on a copy: the request\'s resource stays as it was sent', () => {
    const sent = observation('urn:uuid:6f0d2b7e-0000-4000-8000-000000000001', 'urn:uuid:6f0d2b7e-0000-4000-8000-000000000002');
    const before = structuredClone(sent);
    const written = withReferencesRewritten(sent, targets) as Observation;
    expect(written).not.toBe(sent);
    expect(written.subject?.reference).toBe('Patient/p1');
    expect(written.encounter?.reference).toBe('Encounter/e1');
    expect(written.performer?.map((p) => p.reference)).toEqual(['Practitioner/d1', 'Patient/p1']);
    expect(sent).toEqual(before);
    // The same result as rewriting a clone in place, as the plan did before.
    const inPlace = structuredClone(before) as Resource;
    rewriteReferences(inPlace, targets);
    expect(JSON.stringify(written)).toBe(JSON.stringify(inPlace));
  });

  it('passes a resource naming no entry on as it is, not copied', () => {
    const sent = { ...observation('Patient/p9', 'Encounter/e9'), performer: [{ reference: 'Practitioner/d1' }] };
    expect(withReferencesRewritten(sent, targets)).toBe(sent);
    expect(withReferencesRewritten(sent, new Map())).toBe(sent);
    // A `reference` that is not a string, or a urn:uuid of no entry, is left alone.
    const odd = { ...sent, note: [{ text: 'urn:uuid:6f0d2b7e-0000-4000-8000-000000000001' }], extension: [{ url: 'x', valueReference: { reference: 'urn:uuid:0' } }] };
    expect(withReferencesRewritten(odd as Resource, targets)).toBe(odd);
  });
});

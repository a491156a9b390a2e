import type { ChargeItem, DocumentReference, Encounter, Observation, Patient } from '@medplum/fhirtypes';
import { recordDate } from './record-date.js';
import { encounterIdOf, recordEncounters, recordPatient, referenceKey } from './reference-key.js';

describe('a copy reads references as the search index does', () => {
  it('referenceKey: `Type/id` of the relative, absolute and versioned forms; nothing for a contained resource or a placeholder', () => {
    expect(['Observation/o1', 'http://his.example/fhir/Observation/o1', 'Observation/o1/_history/4'].map(referenceKey)).toEqual(['Observation/o1', 'Observation/o1', 'Observation/o1']);
    expect(['#o1', 'urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427', undefined].map(referenceKey)).toEqual([undefined, undefined, undefined]);
  });

  it('encounterIdOf: the id of the stay a record names, in any of those forms, and nothing for another type', () => {
    expect(['Encounter/e1', 'https://his.example/fhir/Encounter/e1/_history/2'].map(encounterIdOf)).toEqual(['e1', 'e1']);
    expect(['EpisodeOfCare/e1', 'Patient/Encounter', '#e1', undefined].map(encounterIdOf)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('recordEncounters: the visits a record is filed under, whichever element names them; recordPatient: whose record it is', () => {
    const obs: Observation = { resourceType: 'Observation', id: 'o', status: 'final', code: {}, subject: { reference: 'Patient/p1' }, encounter: { reference: 'Encounter/e2' } };
    const charge: ChargeItem = { resourceType: 'ChargeItem', id: 'c', status: 'billed', code: {}, subject: { reference: 'Patient/p1' }, context: { reference: 'Encounter/e1' } };
    const doc: DocumentReference = { resourceType: 'DocumentReference', id: 'd', status: 'current', content: [], subject: { reference: 'Patient/p1' }, context: { encounter: [{ reference: 'Encounter/e3' }, { reference: 'Encounter/e1' }, { reference: '#x' }] } };
    const encounter: Encounter = { resourceType: 'Encounter', id: 'e9', status: 'finished', class: {}, subject: { reference: 'Patient/p1' } };
    expect([obs, charge, doc, encounter].map(recordEncounters)).toEqual([['e2'], ['e1'], ['e1', 'e3'], ['e9']]);
    expect(recordEncounters({ ...charge, context: { reference: 'EpisodeOfCare/x' } } as ChargeItem)).toEqual([]);
    expect([obs, { resourceType: 'Patient', id: 'p7' } as Patient, { ...obs, subject: { reference: 'Group/g' } }].map(recordPatient)).toEqual(['p1', 'p7', undefined]);
  });

  it('recordDate: the record\'s own date as sent, the first of the elements that date it', () => {
    expect(recordDate({ resourceType: 'Composition', date: '2026-03-01T08:00:00+08:00' } as never)).toBe('2026-03-01T08:00:00+08:00');
    expect(recordDate({ resourceType: 'Observation', effectivePeriod: { start: '2026-03-02' }, issued: '2026-03-03T00:00:00Z' } as never)).toBe('2026-03-02');
    expect(recordDate({ resourceType: 'MedicationRequest', authoredOn: '2026-03-04T01:00:00Z' } as never)).toBe('2026-03-04T01:00:00Z');
    expect(recordDate({ resourceType: 'ChargeItem', occurrencePeriod: { start: '2026-03-05' }, enteredDate: '2026-03-06' } as never)).toBe('2026-03-05');
    expect(recordDate({ resourceType: 'Basic', code: {} } as never)).toBeUndefined();
  });
});

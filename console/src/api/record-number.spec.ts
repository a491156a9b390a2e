import { recordNumberOf, recordNumberSearch } from './record-number';

const MR = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] };

describe('the 病案号 the console shows and searches by (policy settings.medicalRecordNumberSystems)', () => {
  it('takes the first policy system the patient has, in the policy\'s order, skipping old numbers', () => {
    const patient = {
      identifier: [
        { system: 'urn:hospital:mrn', value: 'OLD-1', use: 'old' },
        { system: 'urn:hospital:outpatient', value: 'OP-7' },
        { system: 'urn:hospital:mrn', value: 'MR-42' },
      ],
    };
    expect(recordNumberOf(patient, ['urn:hospital:mrn', 'urn:hospital:outpatient'])).toBe('MR-42');
    expect(recordNumberOf(patient, ['urn:hospital:outpatient', 'urn:hospital:mrn'])).toBe('OP-7');
  });

  it('falls back to an identifier of type MR (v2-0203), and to nothing: never another kind of number', () => {
    const card = { system: 'urn:cn:resident-id', value: '110101199001011234' };
    expect(recordNumberOf({ identifier: [card, { system: 'urn:x', value: 'MR-9', type: MR }] }, ['urn:hospital:mrn'])).toBe('MR-9');
    expect(recordNumberOf({ identifier: [card] }, [])).toBeUndefined();
    expect(recordNumberOf(undefined, ['urn:hospital:mrn'])).toBeUndefined();
    // A type MR in another code system is not v2-0203's MR.
    expect(recordNumberOf({ identifier: [{ value: 'X', type: { coding: [{ system: 'urn:other', code: 'MR' }] } }] }, [])).toBeUndefined();
  });

  it('searches the policy\'s systems in one request, or the value in any system when none is named', () => {
    expect(recordNumberSearch(' MR-42 ', ['urn:hospital:mrn', 'urn:hospital:op'])).toBe(
      `Patient?identifier=${encodeURIComponent('urn:hospital:mrn|MR-42')},${encodeURIComponent('urn:hospital:op|MR-42')}&_count=20`,
    );
    expect(recordNumberSearch('MR-42', [])).toBe('Patient?identifier=MR-42&_count=20');
    // FHIR search separators in the typed text would change the search: not a 病案号.
    for (const q of ['', '  ', 'a,b', 'x|y', 'a$b', 'a\\b']) expect(recordNumberSearch(q, ['urn:hospital:mrn'])).toBeUndefined();
  });
});

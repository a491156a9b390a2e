import type { Observation } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { referenceFormatIssues } from './reference-format.js';

describe('referenceFormatIssues (R4 references.html#literal)', () => {
  const types = loadR4Definitions();
  const observation = (subject: string, performer: string[] = []): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: '心率' },
    subject: { reference: subject },
    performer: performer.map((reference) => ({ reference })),
  });

  it('accepts every form that names a record or is left to its own rules', () => {
    for (const reference of [
      'Patient/p-1',
      'Patient/p.1-A/_history/3',
      'https://his.example/fhir/Patient/1',
      'urn:uuid:6f1c4b1e-0f7a-4c56-9c49-0d5b1a2e1f10',
      'urn:oid:1.2.3',
      '#contained-1',
      'patient/1',
      'NotAType/whatever here',
    ]) {
      expect({ reference, issues: referenceFormatIssues(observation(reference), types) }).toEqual({ reference, issues: [] });
    }
  });

  it('refuses a relative reference to a resource type that names no record, at its element path', () => {
    const cases: [string, string][] = [
      ['Patient/', 'Observation.subject.reference'],
      ['Patient/张 三', 'Observation.subject.reference'],
      ['Patient/1/2', 'Observation.subject.reference'],
      ['Patient/1/_history', 'Observation.subject.reference'],
      ['Patient/1/_history/', 'Observation.subject.reference'],
      [`Patient/${'x'.repeat(65)}`, 'Observation.subject.reference'],
    ];
    for (const [reference, path] of cases) {
      const issues = referenceFormatIssues(observation(reference), types);
      expect({ reference, issues: issues.map((i) => [i.severity, i.code, i.expression]) }).toEqual({ reference, issues: [['error', 'value', [path]]] });
    }
    const nested = referenceFormatIssues(observation('Patient/1', ['Practitioner/ok', 'Practitioner/']), types);
    expect(nested.map((i) => i.expression)).toEqual([['Observation.performer[1].reference']]);
  });
});

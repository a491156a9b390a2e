import type { Encounter, Observation, Patient } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../fhir-definitions.js';
import { extractSearchIndex, normalizeString } from './search-index.extractor.js';
import { SearchParameterRegistry } from './search-parameter.registry.js';

describe('extractSearchIndex', () => {
  const registry = SearchParameterRegistry.fromProfiles();
  beforeAll(() => loadR4Definitions());

  it('indexes a Patient: identifiers, names (parts and the whole Chinese name), gender and birth date', () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'p1',
      identifier: [{ system: 'urn:oid:2.16.156', value: '110101' }],
      name: [{ family: '张', given: ['三'] }],
      gender: 'male',
      birthDate: '1980-02-03',
    };
    const index = extractSearchIndex(patient, registry.forType('Patient'));
    expect(index.tokens).toEqual(expect.arrayContaining([
      { param: 'identifier', system: 'urn:oid:2.16.156', code: '110101' },
      { param: 'gender', system: '', code: 'male' },
    ]));
    expect(index.strings.filter((s) => s.param === 'name').map((s) => s.value).sort()).toEqual(['三', '张', '张三'].sort());
    expect(index.dates).toContainEqual({ param: 'birthdate', low: '1980-02-02T16:00:00.000Z', high: '1980-02-03T15:59:59.999Z' });
  });

  it('indexes references with their target type, and patient only when the subject is a Patient', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/p1' },
      encounter: { reference: 'http://other.example/fhir/Encounter/e1/_history/2' },
      effectivePeriod: { start: '2024-03-05T10:00:00+08:00' },
    };
    const index = extractSearchIndex(obs, registry.forType('Observation'));
    expect(index.references).toEqual(expect.arrayContaining([
      { param: 'subject', targetType: 'Patient', targetId: 'p1' },
      { param: 'patient', targetType: 'Patient', targetId: 'p1' },
      { param: 'encounter', targetType: 'Encounter', targetId: 'e1' },
    ]));
    expect(index.dates).toContainEqual({ param: 'date', low: '2024-03-05T02:00:00.000Z', high: 'infinity' });
    const groupSubject = extractSearchIndex({ ...obs, subject: { reference: 'Group/g1' } }, registry.forType('Observation'));
    expect(groupSubject.references.find((r) => r.param === 'patient')).toBeUndefined();
  });

  it('skips references it cannot resolve to a type and id (contained, urn:uuid)', () => {
    const enc: Encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' }, subject: { reference: 'urn:uuid:1234' } };
    expect(extractSearchIndex(enc, registry.forType('Encounter')).references).toEqual([]);
  });

  it('never produces the same row twice', () => {
    const patient: Patient = { resourceType: 'Patient', name: [{ family: 'Li' }, { family: 'Li' }] };
    const rows = extractSearchIndex(patient, registry.forType('Patient')).strings.filter((s) => s.param === 'family');
    expect(rows).toEqual([{ param: 'family', value: 'li', exact: 'Li' }]);
  });

  it('normalises case and accents for string search', () => {
    expect(normalizeString('  MÜLLER ')).toBe('muller');
  });
});

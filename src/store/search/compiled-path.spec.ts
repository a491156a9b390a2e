import { evalFhirPathTyped, parseFhirPath, toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Observation, Resource } from '@medplum/fhirtypes';
import { corpusText, r4ResourceTypes, type CorpusSubjects } from '../../../test/support/r4-corpus.js';
import { loadR4Definitions } from '../fhir-definitions.js';
import { compiledPath } from './compiled-path.js';
import { SearchParameterRegistry } from './search-parameter.registry.js';

/**
 * Issue #13: search expressions are evaluated by `compiledPath` instead of medplum's
 * interpreter. The oracle is medplum's own `evalFhirPathTyped` on the same parsed expression:
 * every R4 parameter and composite component, on one resource of every type and on shapes the
 * corpus lacks (choice types, primitive extensions, contained resources, a `where`), must give
 * the same values of the same types, in the same order, or both throw.
 */
describe('compiledPath: the values medplum gives, without its interpreter', () => {
  const registry = SearchParameterRegistry.fromProfiles();
  const SUBJECTS: CorpusSubjects = { run: 'r1', patient: 'p1', encounter: 'e1', practitioner: 'pr1', organization: 'o1' };
  beforeAll(() => loadR4Definitions());

  /** The values, or that it threw (the extractor takes a throw as no values; medplum words it its own way). */
  const outcome = (run: () => TypedValue[]): { values?: TypedValue[]; threw?: true } => {
    try {
      return { values: run() };
    } catch {
      return { threw: true };
    }
  };
  /** Compares both on `input`; returns how many values medplum found. */
  const compare = (atom: FhirPathAtom, input: TypedValue[], label: string): number => {
    const expected = outcome(() => evalFhirPathTyped(atom, input));
    const actual = outcome(() => compiledPath(atom)(input));
    expect({ label, ...actual }).toEqual({ label, ...expected });
    // Same objects, not merely equal ones: the component cache keys on them.
    expected.values?.forEach((v, i) => expect(actual.values?.[i].value).toBe(v.value));
    return expected.values?.length ?? 0;
  };
  /** Every alternative of every parameter of the type, and each composite's components on each element it yields. */
  const compareAll = (resource: Resource): number => {
    const input = [toTypedValue(resource)];
    let found = 0;
    for (const p of registry.forType(resource.resourceType)) {
      for (const atom of p.atoms) {
        found += compare(atom, input, `${resource.resourceType} ${p.code}: ${atom.original}`);
        for (const element of p.components ? evalFhirPathTyped(atom, input) : []) {
          for (const c of p.components ?? []) for (const a of c.atoms) found += compare(a, [element], `${p.code} component ${a.original}`);
        }
      }
    }
    return found;
  };

  it('gives every R4 parameter the values medplum gives, on one resource of every type', () => {
    let found = 0;
    for (const type of r4ResourceTypes()) found += compareAll(JSON.parse(corpusText(type, SUBJECTS)) as Resource);
    expect(found).toBeGreaterThan(500); // not a vacuous corpus (752 values over 146 types)
  });

  it('agrees on choice types, primitive extensions, several values and shapes FHIR does not allow', () => {
    const base: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' } };
    const q = (value: number, code: string) => ({ value, code, unit: code, system: 'http://unitsofmeasure.org' });
    const observations: Observation[] = [
      { ...base, valueQuantity: q(37.5, 'Cel') },
      { ...base, valueCodeableConcept: { coding: [{ code: 'a' }, { system: 's', code: 'b' }] } },
      { ...base, valueString: 'text' },
      { ...base, valuePeriod: { start: '2024-01-01' } },
      { ...base, valueDateTime: '2024-01-01', ...{ _valueDateTime: { extension: [{ url: 'http://x', valueString: 'y' }] } } },
      { ...base, ...{ _status: { extension: [{ url: 'http://x', valueString: 'y' }] } } },
      { ...base, valueRange: { low: q(1, 'mg') } },
      { ...base, valueSampledData: { origin: q(0, 'mV'), period: 1, dimensions: 1 } },
      { ...base, component: [{ code: { text: 'a' }, valueQuantity: q(1, 'mg') }, { code: { text: 'b' }, valueString: 's' }, { code: { text: 'c' } }] },
      { ...base, subject: { reference: 'Patient/p1' }, focus: [{ reference: 'Group/g1' }, { display: 'no reference' }] },
      { ...base, contained: [{ resourceType: 'Patient', id: 'c1' }], subject: { reference: '#c1' } },
      { ...base, category: [] as never, identifier: [{}] },
      { ...base, code: 'not an object' as never, valueQuantity: null as never, component: [null as never, 3 as never] },
    ];
    let found = 0;
    for (const o of observations) found += compareAll(o);
    expect(found).toBeGreaterThan(100);
  });

  it('agrees on expressions beyond paths, which it leaves to medplum, and on input that is not a resource', () => {
    const patient = { resourceType: 'Patient', name: [{ family: '张', given: ['三', '丰'] }], birthDate: '1990-01-01' };
    const expressions = [
      'Patient.name.given',
      'Patient.name.where(family = \'张\').given',
      'Patient.name.given.first()',
      '(Patient.birthDate as date)',
      '(Patient.birthDate as dateTime)',
      'Patient.birthDate.as(dateTime)',
      'Patient.name[0].family',
      'Patient.constructor',
      '$this.name.family',
      '%resource.name',
      'name.family',
      'Observation.code',
    ];
    let found = 0;
    for (const text of expressions) {
      const atom = parseFhirPath(text);
      found += compare(atom, [toTypedValue(patient)], text);
      compare(atom, [], `${text} on nothing`);
      compare(atom, [toTypedValue(patient), toTypedValue({ family: 'x' })], `${text} on two`);
    }
    expect(found).toBeGreaterThan(5);
  });

  it('compiles an expression once', () => {
    const atom = parseFhirPath('Patient.name');
    expect(compiledPath(atom)).toBe(compiledPath(atom));
  });
});

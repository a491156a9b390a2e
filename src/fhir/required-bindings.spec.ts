import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataType } from '@medplum/core';
import fc from 'fast-check';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { packageRoot } from '../common/package-root.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { ALLOWED_CODES_SHOWN, allowedCodes, RequiredBindings, type RequiredValueSets } from './required-bindings.js';
import { ResourceValidator } from './resource.validator.js';

const resourceTypes = loadR4Definitions();
const bindings = new RequiredBindings(resourceTypes);
const check = (resource: unknown): OperationOutcomeIssue[] => bindings.check(resource as Resource);
const where = (issues: OperationOutcomeIssue[]) => issues.map((i) => `${i.code} ${i.expression?.join(',')}`);
const parse = (json: string): unknown => JSON.parse(json);

// The oracle restates the R4 value sets (https://hl7.org/fhir/R4/valueset-administrative-gender.html, …).
const GENDERS = ['male', 'female', 'other', 'unknown'];
const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';

describe('RequiredBindings: required terminology bindings (R-17)', () => {
  it('R-17: Patient.gender "robot" is code-invalid, naming the element, the value set and every allowed code', () => {
    const issues = check({ resourceType: 'Patient', gender: 'robot' });
    expect(where(issues)).toEqual(['code-invalid Patient.gender']);
    const text = issues[0].details?.text ?? '';
    expect(text).toContain('"robot"');
    expect(text).toContain('http://hl7.org/fhir/ValueSet/administrative-gender');
    for (const g of GENDERS) expect(text).toContain(g);
  });

  it('R-17: every R4 gender passes; a code is case-sensitive and not matched by Object.prototype names', () => {
    for (const gender of GENDERS) expect(check({ resourceType: 'Patient', gender })).toEqual([]);
    for (const gender of ['Male', 'constructor', '__proto__', 'toString', 'hasOwnProperty', ' male']) {
      expect(where(check({ resourceType: 'Patient', gender }))).toEqual(['code-invalid Patient.gender']);
    }
  });

  it('R-17: Observation.status "whatever" is refused; each R4 observation status passes', () => {
    expect(where(check({ resourceType: 'Observation', status: 'whatever', code: { text: 'x' } }))).toEqual(['code-invalid Observation.status']);
    for (const status of ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown']) {
      expect(check({ resourceType: 'Observation', status, code: { text: 'x' } })).toEqual([]);
    }
  });

  it('R-17: bindings in data types and backbone elements are enforced with the element path and index', () => {
    const patient = {
      resourceType: 'Patient',
      text: { status: 'made-up', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
      identifier: [{ use: 'official', value: '1' }, { use: 'primary', value: '2' }],
      name: [{ use: 'nickname', family: 'a' }, { use: 'alias', family: 'b' }],
      telecom: [{ system: 'phone', value: '1' }, { system: 'pager2', value: '2', use: 'desk' }],
      address: [{ use: 'home', type: 'igloo' }],
      contact: [{ gender: 'female' }, { gender: 'robot' }],
      link: [{ other: { reference: 'Patient/x' }, type: 'merged' }],
    };
    expect(where(check(patient)).sort()).toEqual(
      [
        'code-invalid Patient.text.status',
        'code-invalid Patient.identifier[1].use',
        'code-invalid Patient.name[1].use',
        'code-invalid Patient.telecom[1].system',
        'code-invalid Patient.telecom[1].use',
        'code-invalid Patient.address[0].type',
        'code-invalid Patient.contact[1].gender',
        'code-invalid Patient.link[0].type',
      ].sort(),
    );
  });

  it('R-17: choice types, arrays of codes, extension values and contained resources are enforced too', () => {
    const observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      valueQuantity: { value: 1, comparator: '>>' },
      effectiveTiming: { repeat: { when: ['MORN', 'LUNCH'] } },
      extension: [{ url: 'urn:x', valueContactPoint: { system: 'pigeon' } }],
      contained: [{ resourceType: 'Patient', id: 'p', gender: 'robot' }],
      subject: { reference: '#p' },
    };
    expect(where(check(observation)).sort()).toEqual(
      [
        'code-invalid Observation.valueQuantity.comparator',
        'code-invalid Observation.effectiveTiming.repeat.when[1]',
        'code-invalid Observation.extension[0].valueContactPoint.system',
        'code-invalid Observation.contained[0].gender',
      ].sort(),
    );
    expect(check({ ...observation, valueQuantity: { value: 1, comparator: '<=' }, effectiveTiming: { repeat: { when: ['MORN', 'AC'] } },
      extension: [{ url: 'urn:x', valueContactPoint: { system: 'email' } }], contained: [{ resourceType: 'Patient', id: 'p', gender: 'male' }] })).toEqual([]);
  });

  describe('a CodeableConcept with a required binding (Condition.clinicalStatus)', () => {
    const condition = (clinicalStatus: unknown) => ({ resourceType: 'Condition', subject: { reference: 'Patient/p' }, clinicalStatus });

    it('R-17: passes with a coding of the value set, also beside translations and text', () => {
      expect(check(condition({ coding: [{ system: CONDITION_CLINICAL, code: 'active' }] }))).toEqual([]);
      const translated = { coding: [{ system: 'urn:local', code: 'A' }, { system: CONDITION_CLINICAL, code: 'remission' }], text: 'in remission' };
      expect(check(condition(translated))).toEqual([]);
    });

    it('R-17: a coding of the bound system with an unknown code is refused, even beside a valid one', () => {
      const asleep = { coding: [{ system: CONDITION_CLINICAL, code: 'asleep' }] };
      expect(where(check(condition(asleep)))).toEqual(['code-invalid Condition.clinicalStatus.coding[0]']);
      expect(where(check(condition({ coding: [{ system: CONDITION_CLINICAL, code: 'active' }, { system: CONDITION_CLINICAL, code: 'zzz' }] })))).toEqual([
        'code-invalid Condition.clinicalStatus.coding[1]',
      ]);
      expect(where(check(condition({ coding: [{ system: CONDITION_CLINICAL }] })))).toEqual(['code-invalid Condition.clinicalStatus.coding[0]']);
    });

    it('R-17: text alone, foreign codings alone or a code without a system do not satisfy the binding', () => {
      for (const cc of [{ text: 'active' }, { coding: [{ system: 'urn:local', code: 'active' }] }, { coding: [{ code: 'active' }] }]) {
        const issues = check(condition(cc));
        expect(where(issues)).toEqual(['code-invalid Condition.clinicalStatus']);
        expect(issues[0].details?.text).toContain(`active, recurrence, relapse, inactive, remission, resolved (system ${CONDITION_CLINICAL})`);
      }
    });
  });

  it('R-17: a Coding with a required binding must carry the bound system and one of its codes', () => {
    // No R4 base element binds a Coding `required`: a probe type exercises the rule (medplum indexes
    // a definition as a base type only under the base URL pattern).
    const probe: StructureDefinition = {
      resourceType: 'StructureDefinition',
      url: 'http://hl7.org/fhir/StructureDefinition/BindingProbe',
      name: 'BindingProbe',
      type: 'BindingProbe',
      kind: 'resource',
      status: 'draft',
      abstract: false,
      snapshot: {
        element: [
          { path: 'BindingProbe', min: 0, max: '*' },
          {
            path: 'BindingProbe.sex',
            min: 0,
            max: '1',
            type: [{ code: 'Coding' }],
            binding: { strength: 'required', valueSet: 'http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1' },
          },
        ],
      },
    };
    loadDataType(probe);
    const probes = new RequiredBindings(new Set([...resourceTypes, 'BindingProbe']));
    const sex = (coding: unknown) => where(probes.check({ resourceType: 'BindingProbe', sex: coding } as unknown as Resource));
    expect(sex({ system: 'http://hl7.org/fhir/administrative-gender', code: 'female' })).toEqual([]);
    expect(sex({ system: 'http://hl7.org/fhir/administrative-gender', code: 'robot' })).toEqual(['code-invalid BindingProbe.sex']);
    expect(sex({ system: 'urn:local', code: 'female' })).toEqual(['code-invalid BindingProbe.sex']);
    expect(sex({ code: 'female' })).toEqual(['code-invalid BindingProbe.sex']);
  });

  it('R-17: a long list of allowed codes is cut after the first ones and names the value set', () => {
    const issues = check({ resourceType: 'CompartmentDefinition', url: 'urn:x', name: 'x', status: 'draft', code: 'Patient', search: true,
      resource: [{ code: 'Robot' }] });
    expect(where(issues)).toEqual(['code-invalid CompartmentDefinition.resource[0].code']);
    const text = issues[0].details?.text ?? '';
    expect(text).toMatch(/; allowed: Account, ActivityDefinition, [^…]*, … and \d+ more /);
    expect(text).toMatch(/ \(system http:\/\/hl7\.org\/fhir\/resource-types\) \(see http:\/\/hl7\.org\/fhir\/ValueSet\/resource-types\)$/);
    const codes = Array.from({ length: ALLOWED_CODES_SHOWN + 5 }, (_, i) => `c${i}`);
    const head = codes.slice(0, ALLOWED_CODES_SHOWN).join(', ');
    expect(allowedCodes({ url: 'urn:vs', systems: new Map([['urn:s', new Set(codes)]]) })).toBe(`${head}, … and 5 more (system urn:s) (see urn:vs)`);
    expect(allowedCodes({ url: 'urn:vs', systems: new Map([['urn:a', new Set(['x'])], ['urn:b', new Set(['y'])]]) })).toBe('urn:a|x, urn:b|y');
  });

  it('R-17: a value set that cannot be expanded is not enforced, and the others are read only once', () => {
    let loads = 0;
    const data: RequiredValueSets = { valueSets: {}, notEnforced: { 'http://hl7.org/fhir/ValueSet/administrative-gender': 'test' } };
    const lenient = new RequiredBindings(resourceTypes, () => {
      loads += 1;
      return data;
    });
    expect(lenient.check({ resourceType: 'Patient', gender: 'robot' } as unknown as Resource)).toEqual([]);
    expect(lenient.check({ resourceType: 'Person', gender: 'robot' } as unknown as Resource)).toEqual([]);
    expect(loads).toBe(1);
  });

  it('R-17: the shipped expansions cover every required binding but those of external code systems or missing value sets', () => {
    const shipped = JSON.parse(readFileSync(join(packageRoot(), 'fhir-profiles', 'required-valuesets.json'), 'utf8')) as RequiredValueSets;
    expect(Object.keys(shipped.notEnforced).sort()).toEqual([
      'http://hl7.org/fhir/ValueSet/characteristic-combination',
      'http://hl7.org/fhir/ValueSet/currencies',
      'http://hl7.org/fhir/ValueSet/mimetypes',
      'http://hl7.org/fhir/ValueSet/subscription-notification-type',
      'http://hl7.org/fhir/ValueSet/ucum-units',
      'http://loinc.org/vs/LL379-9',
    ]);
    expect(shipped.valueSets['http://hl7.org/fhir/ValueSet/administrative-gender']).toEqual({ 'http://hl7.org/fhir/administrative-gender': GENDERS });
  });

  it('R-17: an empty resource of every R4 type passes (every type compiles)', () => {
    for (const resourceType of resourceTypes) expect(check({ resourceType })).toEqual([]);
  });
});

describe('RequiredBindings: unknown elements a name lookup mistakes for known ones (issue #12 item 7)', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '_constructor', '__defineGetter__'])(
    'R-17: "%s" is an unknown element at the root and nested',
    (key) => {
      expect(where(check(parse(`{"resourceType":"Patient",${JSON.stringify(key)}:{"a":1}}`)))).toEqual([`structure Patient.${key}`]);
      expect(where(check(parse(`{"resourceType":"Patient","name":[{"family":"a",${JSON.stringify(key)}:"x"}]}`)))).toEqual([
        `structure Patient.name[0].${key}`,
      ]);
      const extension = `{"url":"urn:x","valueString":"a",${JSON.stringify(key)}:1}`;
      expect(where(check(parse(`{"resourceType":"Patient","gender":"male","_gender":{"extension":[${extension}]}}`)))).toEqual([
        `structure Patient._gender.extension[0].${key}`,
      ]);
    },
  );

  it('R-17: a nested resource must name a concrete R4 resource type', () => {
    for (const resourceType of ['constructor', '__proto__', 'toString', 'HumanName', 'DomainResource', 'Resource', 'Nope', 7, undefined]) {
      expect(where(check({ resourceType: 'Patient', contained: [{ resourceType, id: 'a' }] }))).toEqual(['structure Patient.contained[0].resourceType']);
    }
    expect(where(check({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'toString' } }] }))).toEqual([
      'structure Bundle.entry[0].resource.resourceType',
    ]);
  });

  it('R-17: `resourceType` inside an element and `_name` beside a complex element are unknown elements', () => {
    expect(where(check({ resourceType: 'Patient', name: [{ resourceType: 'Patient', family: 'a' }] }))).toEqual(['structure Patient.name[0].resourceType']);
    expect(where(check({ resourceType: 'Patient', _name: [{ family: 'a' }] }))).toEqual(['structure Patient._name']);
    expect(check({ resourceType: 'Patient', birthDate: '2000-01-01', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] } })).toEqual([]);
  });
});

describe('ResourceValidator', () => {
  const validator = new ResourceValidator();
  const refusal = (resource: unknown): FhirRequestError => {
    try {
      validator.validate(resource as Resource);
    } catch (e) {
      if (e instanceof FhirRequestError) return e;
      throw e;
    }
    throw new Error('accepted');
  };

  it('R-17: structural and terminology problems are reported together as ValidationFailed', () => {
    const e = refusal({ resourceType: 'Patient', gender: 'robot', foo: 1 });
    expect(e.code).toBe(FhirRequestErrorCode.ValidationFailed);
    expect(where(e.issues ?? []).sort()).toEqual(['code-invalid Patient.gender', 'structure Patient.foo']);
  });

  it('R-17: an input the structural validator gives up on is refused as invalid, not thrown as a crash', () => {
    const e = refusal({ resourceType: 'Patient', gender: 'male', _gender: 'x' });
    expect(e.code).toBe(FhirRequestErrorCode.ValidationFailed);
    expect(e.issues?.[0]).toMatchObject({ severity: 'error', code: 'structure' });
  });

  it('R-17: a valid resource passes', () => {
    expect(() =>
      validator.validate({
        resourceType: 'Patient',
        gender: 'female',
        telecom: [{ system: 'phone', value: '1', use: 'mobile' }],
        name: [{ use: 'official', family: '张' }],
      }),
    ).not.toThrow();
  });

  it('R-17: whatever JSON is grafted anywhere into a resource, validation answers valid or ValidationFailed, never another error', () => {
    const keys = ['gender', 'status', 'telecom', 'name', 'code', 'contained', 'extension', '_gender', 'valueQuantity', 'text', 'meta',
      '__proto__', 'constructor', 'toString', 'resourceType', 'coding', 'system', 'clinicalStatus', 'comparator'];
    const graft = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom<unknown>('robot', null, [null], { resourceType: 'constructor' }, { coding: [{}] }));
    const path = fc.array(fc.oneof(fc.constantFrom(...keys), fc.nat({ max: 2 })), { minLength: 1, maxLength: 4 });
    const active = { coding: [{ system: CONDITION_CLINICAL, code: 'active' }] };
    const base = (): Record<string, unknown> =>
      structuredClone({ resourceType: 'Patient', gender: 'male', telecom: [{ system: 'phone', value: '1' }], name: [{ family: 'a', given: ['b'] }],
        contained: [{ resourceType: 'Condition', id: 'c', subject: { reference: 'Patient/p' }, clinicalStatus: active }] });
    fc.assert(
      fc.property(fc.array(fc.tuple(path, graft), { minLength: 1, maxLength: 3 }), (grafts) => {
        const resource = base();
        for (const [steps, value] of grafts) {
          let at: unknown = resource;
          // Own properties only: following `__proto__` would graft onto Object.prototype and poison the test worker itself.
          for (const step of steps.slice(0, -1)) at = (isRecord(at) || Array.isArray(at)) && Object.hasOwn(at, step) ? (at as Record<string, unknown>)[step] : undefined;
          const last = steps[steps.length - 1];
          // A copy of the value: constantFrom hands out one shared object, and grafting it twice could
          // make a cycle, which no parsed JSON body can be.
          if (isRecord(at) || Array.isArray(at)) Object.defineProperty(at, last, { value: structuredClone(value), enumerable: true, writable: true, configurable: true });
        }
        try {
          validator.validate(resource as unknown as Resource);
        } catch (e) {
          expect(e).toBeInstanceOf(FhirRequestError);
          expect((e as FhirRequestError).code).toBe(FhirRequestErrorCode.ValidationFailed);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

import type { CodeSystem, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isEngineCsd1 } from './code-system-codes.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { ResourceValidator } from './resource.validator.js';

const validator = new ResourceValidator();
const designation = (value: string) => [{ use: { system: 'http://acme.com/config/fhir/codesystems/internal', code: 'internal-label' }, value }];

/** HL7's own R4 `codesystem-example` (https://hl7.org/fhir/R4/codesystem-example.json), restated by hand. */
const HL7_EXAMPLE: CodeSystem = {
  resourceType: 'CodeSystem',
  id: 'example',
  meta: { profile: ['http://hl7.org/fhir/StructureDefinition/shareablecodesystem'] },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>ACME Codes for Cholesterol in Serum/Plasma</p></div>' },
  url: 'http://hl7.org/fhir/CodeSystem/example',
  identifier: [{ system: 'http://acme.com/identifiers/codesystems', value: 'internal-cholesterol-inl' }],
  version: '20160128',
  name: 'ACMECholCodesBlood',
  title: 'ACME Codes for Cholesterol in Serum/Plasma',
  status: 'draft',
  experimental: true,
  date: '2016-01-28',
  publisher: 'Acme Co',
  contact: [{ name: 'FHIR project team', telecom: [{ system: 'url', value: 'http://hl7.org/fhir' }] }],
  description: 'This is an example code system that includes all the ACME codes for serum/plasma cholesterol from v2.36.',
  caseSensitive: true,
  content: 'complete',
  filter: [{ code: 'acme-plasma', description: 'An internal filter used to select codes that are only used with plasma', operator: ['='], value: "the value of this filter is either 'true' or 'false'" }],
  concept: [
    { code: 'chol-mmol', display: 'SChol (mmol/L)', definition: 'Serum Cholesterol, in mmol/L', designation: designation('From ACME POC Testing') },
    { code: 'chol-mass', display: 'SChol (mg/L)', definition: 'Serum Cholesterol, in mg/L', designation: designation('From Paragon Labs') },
    { code: 'chol', display: 'SChol', definition: 'Serum Cholesterol', designation: designation('Obdurate Labs uses this with both kinds of units...') },
  ],
};

const refusal = (resource: Resource): FhirRequestError => {
  try {
    validator.validate(resource);
  } catch (e) {
    if (e instanceof FhirRequestError) return e;
    throw e;
  }
  throw new Error('expected the validator to refuse');
};
const codeSystem = (concept: CodeSystem['concept']): CodeSystem => ({ resourceType: 'CodeSystem', status: 'draft', content: 'complete', concept });

describe('ResourceValidator: csd-1 (R-17, issue #16)', () => {
  it("HL7's own codesystem-example is valid (no csd-1 issue)", () => {
    expect(validator.issues(HL7_EXAMPLE)).toEqual([]);
    expect(() => validator.validate(HL7_EXAMPLE)).not.toThrow();
  });

  it('R-17: a code repeated at the top level is refused, once, where it reappears', () => {
    const e = refusal(codeSystem([{ code: 'a' }, { code: 'b' }, { code: 'a' }]));
    expect(e.code).toBe(FhirRequestErrorCode.ValidationFailed);
    expect(e.issues).toEqual([expect.objectContaining({ severity: 'error', code: 'invariant', expression: ['CodeSystem.concept[2].code'] })]);
    expect(e.issues?.[0].details?.text).toMatch(/^Constraint csd-1 not met: .*"a" is also at CodeSystem\.concept\[0\]/);
  });

  it('R-17: a code repeated under another concept is refused too (the engine, whose descendants() is empty, let it pass)', () => {
    const e = refusal(codeSystem([{ code: 'chol', concept: [{ code: 'chol-mass', concept: [{ code: 'chol' }] }] }]));
    expect(e.issues).toEqual([expect.objectContaining({ code: 'invariant', expression: ['CodeSystem.concept[0].concept[0].concept[0].code'] })]);
  });

  it('codes distinct at every level pass; only the engine\'s own csd-1 verdict at the root is set aside', () => {
    expect(validator.issues(codeSystem([{ code: 'a', concept: [{ code: 'b', concept: [{ code: 'c' }] }] }, { code: 'd' }]))).toEqual([]);
    const engine: OperationOutcomeIssue = {
      severity: 'error',
      code: 'invariant',
      details: { text: 'Constraint csd-1 not met: Within a code system definition, all the codes SHALL be unique' },
      expression: ['CodeSystem'],
    };
    expect(isEngineCsd1(engine)).toBe(true);
    expect(isEngineCsd1({ ...engine, expression: ['Bundle.entry[0].resource'] })).toBe(false);
    expect(isEngineCsd1({ ...engine, details: { text: 'Constraint csd-0 not met' } })).toBe(false);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeSystem, Composition, ConceptMap, DocumentReference, Observation, Procedure } from '@medplum/fhirtypes';
import { packageRoot } from '../../common/package-root.js';
import { DOCUMENT_TYPE_SYSTEM, DocumentTypes } from './document-types.js';

/**
 * The regulation's document types (fhir-profiles/chartwarden-document-types.json) and how a
 * resource is classified as one: R-31 (objective documents may be copied for a requester,
 * subjective ones may not), R-10 (the event a writing deadline runs from), R-12 (the ledger
 * names each version's document type).
 */

const LOINC = 'http://loinc.org';
const HOSPITAL = 'urn:oid:2.16.156.10011.2.3.1.1';
const profiles = join(packageRoot(), 'fhir-profiles');
const readProfile = <T>(file: string): T => JSON.parse(readFileSync(join(profiles, file), 'utf8')) as T;

/** The regulation's 21 types, as R-31 sorts them (Writing Spec; 2013 copy rules art. 19). */
const SUBJECTIVE = ['first-progress-note', 'daily-progress-note', 'senior-rounds', 'consultation', 'rescue-record', 'death-case-discussion', 'difficult-case-discussion'];
const OBJECTIVE = [
  'admission-record',
  'operation-record',
  'anaesthesia-record',
  'discharge-record',
  'death-record',
  'nursing-record',
  'orders',
  'test-report',
  'imaging-report',
  'pathology-report',
  'consent-form',
  'temperature-chart',
  'cost-record',
  'outpatient-record',
];

const coding = (system: string, code: string) => ({ coding: [{ system, code }] });

function composition(extra: Partial<Composition>): Composition {
  return { resourceType: 'Composition', status: 'preliminary', type: { text: 'note' }, date: '2026-11-29', author: [{ reference: 'Practitioner/dr-li' }], title: '病程记录', ...extra };
}

function documentReference(extra: Partial<DocumentReference>): DocumentReference {
  return { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain' } }], ...extra };
}

describe('document types (R-31 objectivity, R-10 deadline triggers)', () => {
  const types = DocumentTypes.fromProfiles();

  describe('the shipped CodeSystem', () => {
    it('R-31: holds exactly the 21 regulation document types, each with a display and a Chinese name', () => {
      const codes = types.all().map((t) => t.code);
      expect(codes).toHaveLength(21);
      expect(new Set(codes).size).toBe(21);
      expect([...codes].sort()).toEqual([...SUBJECTIVE, ...OBJECTIVE].sort());
      for (const t of types.all()) {
        expect(t.display).toEqual(expect.any(String));
        expect(t.display).not.toBe(t.code);
        expect(t.zh).toMatch(/[\u4e00-\u9fff]/);
      }
      const file = readProfile<CodeSystem>('chartwarden-document-types.json');
      expect(file.url).toBe(DOCUMENT_TYPE_SYSTEM);
      expect(file.concept).toHaveLength(21);
    });

    it.each(SUBJECTIVE)('R-31: %s is subjective (never copied for a requester)', (code) => {
      expect(types.get(code)?.objectivity).toBe('subjective');
    });

    it.each(OBJECTIVE)('R-31: %s is objective (may be copied for a requester)', (code) => {
      expect(types.get(code)?.objectivity).toBe('objective');
    });

    it('R-31: progress notes, senior rounds, consultation and the difficult/death-case discussions are the subjective ones named by the regulation', () => {
      const subjective = types.all().filter((t) => t.objectivity === 'subjective').map((t) => t.code);
      for (const code of ['first-progress-note', 'daily-progress-note', 'senior-rounds', 'consultation', 'difficult-case-discussion', 'death-case-discussion']) {
        expect(subjective).toContain(code);
      }
      expect(types.all().filter((t) => t.objectivity === 'objective')).toHaveLength(OBJECTIVE.length);
    });

    it('R-31: the Chinese names are the record room\'s', () => {
      expect(types.get('admission-record')).toMatchObject({ display: 'Admission record', zh: '入院记录' });
      expect(types.get('daily-progress-note')?.zh).toBe('日常病程记录');
      expect(types.get('senior-rounds')?.zh).toBe('上级医师查房记录');
      expect(types.get('death-case-discussion')?.zh).toBe('死亡病例讨论记录');
      expect(types.get('temperature-chart')?.zh).toBe('体温单');
      expect(types.get('outpatient-record')?.zh).toBe('门(急)诊病历');
    });

    it('R-10: writing deadlines run from admission, operation, rescue, discharge or death; other types carry no trigger', () => {
      const triggers = Object.fromEntries(types.all().filter((t) => t.trigger).map((t) => [t.code, t.trigger]));
      expect(triggers).toEqual({
        'admission-record': 'admission',
        'first-progress-note': 'admission',
        'rescue-record': 'rescue',
        'operation-record': 'operation',
        'anaesthesia-record': 'operation',
        'discharge-record': 'discharge',
        'death-record': 'death',
        'death-case-discussion': 'death',
      });
      expect(types.get('daily-progress-note')).not.toHaveProperty('trigger');
      expect(types.get('orders')).toEqual({ code: 'orders', display: 'Orders', zh: '医嘱单', objectivity: 'objective' });
    });

    it('an unknown code is no type', () => {
      expect(types.get('progress-note')).toBeUndefined();
      expect(types.get('')).toBeUndefined();
    });
  });

  describe('codes that name a type', () => {
    it('R-12: each type\'s own code in the ChartWarden system names it; codes are case-sensitive', () => {
      for (const t of types.all()) expect(types.typeOf(DOCUMENT_TYPE_SYSTEM, t.code)).toBe(t.code);
      expect(types.typeOf(DOCUMENT_TYPE_SYSTEM, 'Admission-Record')).toBeUndefined();
      expect(types.typeOf(LOINC, 'admission-record')).toBeUndefined();
    });

    it('R-12: every LOINC code of the shipped ConceptMap names the type it maps to', () => {
      const map = readProfile<ConceptMap>('chartwarden-document-type-map.json');
      const elements = map.group?.flatMap((g) => g.element ?? []) ?? [];
      expect(elements).toHaveLength(12);
      for (const e of elements) expect(types.typeOf(LOINC, e.code)).toBe(e.target?.[0].code);
      expect(types.typeOf(LOINC, '11506-3')).toBe('daily-progress-note');
      expect(types.typeOf(LOINC, '34117-2')).toBe('admission-record');
      expect(types.typeOf(LOINC, '47039-3')).toBe('admission-record');
      expect(types.typeOf(LOINC, '18842-5')).toBe('discharge-record');
      expect(types.typeOf(LOINC, '59284-0')).toBe('consent-form');
    });

    it('a code without a system, a system without a code, or an unmapped code names nothing', () => {
      expect(types.typeOf(undefined, '11506-3')).toBeUndefined();
      expect(types.typeOf(LOINC, undefined)).toBeUndefined();
      expect(types.typeOf(LOINC, '')).toBeUndefined();
      expect(types.typeOf(LOINC, '8867-4')).toBeUndefined();
      expect(types.typeOf('http://snomed.info/sct', '11506-3')).toBeUndefined();
    });

    it('R-12: a hospital\'s extra code (policy governance.documentTypeMap) names its type, beside the shipped codes', () => {
      const withExtra = DocumentTypes.fromProfiles([
        { system: HOSPITAL, code: 'C0001', type: 'admission-record' },
        { system: HOSPITAL, code: 'C0032', type: 'senior-rounds' },
      ]);
      expect(withExtra.typeOf(HOSPITAL, 'C0001')).toBe('admission-record');
      expect(withExtra.classify(composition({ type: coding(HOSPITAL, 'C0032') }))?.code).toBe('senior-rounds');
      expect(withExtra.typeOf(LOINC, '11506-3')).toBe('daily-progress-note');
      expect(withExtra.all()).toHaveLength(21);
      // The default set does not know the hospital's codes.
      expect(types.typeOf(HOSPITAL, 'C0001')).toBeUndefined();
    });

    it('an extra code naming a type that does not exist is refused, naming the code and the type', () => {
      expect(() => DocumentTypes.fromProfiles([{ system: HOSPITAL, code: 'C0099', type: 'progress-note' }])).toThrow(
        `document type map: ${HOSPITAL}|C0099 names unknown document type "progress-note"`,
      );
    });

    it('a ConceptMap target that is unmatched or disjoint maps nothing; the first usable target wins', () => {
      const codeSystem = readProfile<CodeSystem>('chartwarden-document-types.json');
      const map: ConceptMap = {
        resourceType: 'ConceptMap',
        status: 'active',
        group: [
          {
            source: 'urn:test:codes',
            element: [
              { code: 'u', target: [{ code: 'orders', equivalence: 'unmatched' }] },
              { code: 'd', target: [{ code: 'orders', equivalence: 'disjoint' }] },
              { code: 'x', target: [{ code: 'orders', equivalence: 'disjoint' }, { code: 'test-report', equivalence: 'wider' }] },
            ],
          },
        ],
      };
      const custom = new DocumentTypes(codeSystem, [map]);
      expect(custom.typeOf('urn:test:codes', 'u')).toBeUndefined();
      expect(custom.typeOf('urn:test:codes', 'd')).toBeUndefined();
      expect(custom.typeOf('urn:test:codes', 'x')).toBe('test-report');
      // Without the LOINC map only the types' own codes are known.
      expect(custom.typeOf(LOINC, '11506-3')).toBeUndefined();
    });
  });

  describe('classify', () => {
    it('R-12: by the type\'s own code in Composition.type', () => {
      expect(types.classify(composition({ type: coding(DOCUMENT_TYPE_SYSTEM, 'senior-rounds') }))).toEqual({
        code: 'senior-rounds',
        display: 'Senior physician rounds',
        zh: '上级医师查房记录',
        objectivity: 'subjective',
      });
    });

    it('R-12: by a LOINC code in type (a progress note; a DocumentReference discharge summary)', () => {
      expect(types.classify(composition({ type: coding(LOINC, '11506-3') }))?.code).toBe('daily-progress-note');
      expect(types.classify(documentReference({ type: coding(LOINC, '18842-5') }))).toMatchObject({ code: 'discharge-record', objectivity: 'objective', trigger: 'discharge' });
    });

    it('R-12: a coding the map does not know is skipped for the next coding of the same concept', () => {
      const type = { coding: [{ system: 'urn:his:local', code: 'PN' }, { system: LOINC, code: '11488-4' }] };
      expect(types.classify(composition({ type }))?.code).toBe('consultation');
    });

    it('R-12: by a LOINC code in category when the type names none (Composition category list, DocumentReference category)', () => {
      const byCategory = composition({ type: coding('urn:his:local', 'X1'), category: [coding('urn:his:cat', 'A'), coding(LOINC, '11504-8')] });
      expect(types.classify(byCategory)?.code).toBe('operation-record');
      expect(types.classify(documentReference({ category: [coding(LOINC, '11526-1')] }))?.code).toBe('pathology-report');
      // A resource whose category is a single CodeableConcept (R4 Procedure.category) is classified by it too.
      const single: Procedure = { resourceType: 'Procedure', status: 'completed', subject: { reference: 'Patient/p1' }, category: coding(LOINC, '11502-2') };
      expect(types.classify(single)?.code).toBe('test-report');
    });

    it('R-12: the type wins over the category', () => {
      const both = composition({ type: coding(LOINC, '11488-4'), category: [coding(LOINC, '18842-5')] });
      expect(types.classify(both)?.code).toBe('consultation');
      const ownCodeFirst = documentReference({ type: coding(DOCUMENT_TYPE_SYSTEM, 'rescue-record'), category: [coding(LOINC, '11506-3')] });
      expect(types.classify(ownCodeFirst)).toMatchObject({ code: 'rescue-record', trigger: 'rescue', objectivity: 'subjective' });
    });

    it('unknown codes, no codings and no type or category → undefined', () => {
      expect(types.classify(composition({ type: coding(LOINC, '8867-4'), category: [coding('urn:his:cat', 'A')] }))).toBeUndefined();
      expect(types.classify(composition({ type: { text: '病程记录' } }))).toBeUndefined();
      expect(types.classify(documentReference({}))).toBeUndefined();
      const observation: Observation = { resourceType: 'Observation', status: 'final', code: coding(LOINC, '11506-3') };
      // Observation.code is not a document's type: an Observation is no document.
      expect(types.classify(observation)).toBeUndefined();
      expect(types.classify({ resourceType: 'Patient' })).toBeUndefined();
    });
  });
});

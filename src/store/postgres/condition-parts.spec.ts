import * as fc from 'fast-check';
import type { AccessCondition } from '../access-facts.js';
import { patientLevelPart, readsEncounter } from './condition-parts.js';

/** The facts a condition reads, one per comparison: the definition `readsEncounter` and `patientLevelPart` walk without lists. */
function fieldsOf(c: AccessCondition): string[] {
  return 'field' in c ? [c.field] : c.value.flatMap(fieldsOf);
}

const FIELDS = ['patient', 'careTeam', 'departments', 'encounter', 'encounterClass', 'department', 'withinCareWindow', 'status', 'label', 'authors'];
const { condition } = fc.letrec<{ condition: AccessCondition }>((tie) => ({
  condition: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ operator: fc.constantFrom('eq' as const, 'in' as const), field: fc.constantFrom(...FIELDS), value: fc.constant('x') }),
    fc.record({ operator: fc.constantFrom('and' as const, 'or' as const), value: fc.array(tie('condition'), { maxLength: 3 }) }),
    fc.record({ operator: fc.constant('not' as const), value: tie('condition').map((c) => [c]) }),
  ),
}));

describe('What parts of an access condition read (issue #13, decision 0018)', () => {
  it('a condition reads the encounter when one of its comparisons reads an encounter fact, whatever its nesting', () => {
    const encounterFacts = new Set(['encounter', 'encounterClass', 'department', 'withinCareWindow']);
    fc.assert(fc.property(condition, (c) => expect(readsEncounter(c)).toBe(fieldsOf(c).some((f) => encounterFacts.has(f)))), { numRuns: 500 });
  });

  it('a negation is kept in the patient-level part exactly when every comparison under it reads the patient alone', () => {
    const patientFacts = new Set(['patient', 'careTeam', 'departments']);
    fc.assert(
      fc.property(condition, (inner) => {
        const negation: AccessCondition = { operator: 'not', value: [inner] };
        expect(patientLevelPart(negation)).toBe(fieldsOf(inner).every((f) => patientFacts.has(f)) ? negation : null);
      }),
      { numRuns: 500 },
    );
  });
});

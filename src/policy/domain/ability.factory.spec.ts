import { subject } from '@casl/ability';
import type { Actor } from '../../identity/actor.js';
import { loadR4Definitions } from '../../store/fhir-definitions.js';
import { defaultPolicyPath, loadPolicy, validatePolicy } from '../policy.loader.js';
import type { Action } from './actions.js';
import { buildAbility, expandSubjects, ownValue } from './ability.factory.js';
import type { PolicyDocument } from './policy-document.js';
import type { SubjectAttributes } from './subject-attributes.js';

/*
 * The ability factory on hand-written facts (no database): the shipped default policy and a
 * few small policies written for one point each. Facts are what the store would derive
 * (see `subject-attributes.ts`); `grantees` / `breakGlass` are what the policy service adds.
 */

const resourceTypes = loadR4Definitions();
const defaultPolicy = loadPolicy(defaultPolicyPath(), resourceTypes);

const ME = 'Practitioner/pr-me';
const actor = (over: Partial<Actor> = {}): Actor => ({ id: 'u-me', practitioner: ME, roles: [], scopes: [], ...over });

/** A record of `type` for patient pt-1, with no relationship to the actor unless `over` adds one. */
const record = (type: string, over: Partial<SubjectAttributes> = {}) =>
  subject(type, {
    type,
    id: 'r-1',
    patient: 'pt-1',
    withinCareWindow: true,
    careTeam: ['Practitioner/someone-else'],
    departments: ['dept-other'],
    grantees: [],
    breakGlass: [],
    authors: [],
    docType: [],
    label: 'N',
    ...over,
  } satisfies SubjectAttributes);

const onMyCareTeam = { careTeam: ['Practitioner/someone-else', ME] };
const inMyDepartment = { departments: ['dept-other', 'cardiology'] };

function decide(policy: PolicyDocument, who: Actor, action: Action, type: string, over: Partial<SubjectAttributes> = {}) {
  const rule = buildAbility(policy, who).relevantRuleFor(action, record(type, over));
  return { allowed: Boolean(rule && !rule.inverted), rule: rule?.reason };
}
const can = (policy: PolicyDocument, who: Actor, action: Action, type: string, over: Partial<SubjectAttributes> = {}) =>
  decide(policy, who, action, type, over).allowed;

/** A small valid policy around the given roles (groups: `record` = Observation, Patient, Encounter). */
function policyWith(roles: PolicyDocument['roles'], settings: Partial<PolicyDocument['settings']> = {}): PolicyDocument {
  return validatePolicy(
    {
      version: 'unit-1',
      settings: {
        hiddenRecords: 'forbidden',
        careWindowDaysAfterDischarge: 30,
        breakGlass: { hours: 4, roles: [] },
        grants: { defaultDays: 3, maxDays: 30 },
        defaultLabels: ['U', 'L', 'M', 'N'],
        ...settings,
      },
      groups: { record: ['Observation', 'Patient', 'Encounter'] },
      roles,
    },
    resourceTypes,
    'unit policy',
  );
}

describe('buildAbility: the policy compiled into CASL rules for one actor', () => {
  describe('R-02 default deny', () => {
    it('R-02: an actor with no role, or only roles the policy does not define, may do nothing', () => {
      for (const roles of [[], ['surgeon'], ['ATTENDING']]) {
        const ability = buildAbility(defaultPolicy, actor({ roles }));
        expect(ability.rules).toEqual([]);
        for (const action of ['read', 'search', 'create', 'update'] as const) {
          expect(ability.can(action, record('Observation', { ...onMyCareTeam, ...inMyDepartment }))).toBe(false);
        }
      }
    });

    it('R-02: roles named after Object.prototype members (__proto__, constructor, toString, hasOwnProperty) are unknown roles with no rules', () => {
      for (const roles of [['__proto__'], ['constructor'], ['toString'], ['hasOwnProperty'], ['valueOf', 'nurse']]) {
        const ability = buildAbility(defaultPolicy, actor({ roles, department: 'cardiology' }));
        const nurseOnly = roles.includes('nurse');
        expect(ability.rules.every((r) => String(r.reason).startsWith('nurse.'))).toBe(true);
        expect(ability.rules.length > 0).toBe(nurseOnly);
        expect(ability.can('read', record('Observation', onMyCareTeam))).toBe(nurseOnly);
        expect(ability.can('explain', 'Policy')).toBe(false);
      }
    });

    it('R-02: what no rule allows is denied: an attending neither on the care team nor in the department sees nothing', () => {
      const attending = actor({ roles: ['attending'], department: 'cardiology' });
      for (const action of ['read', 'search', 'create', 'update'] as const) {
        expect(decide(defaultPolicy, attending, action, 'Observation')).toEqual({ allowed: false, rule: undefined });
      }
    });

    it('R-02: an action no rule names is denied even on a record the actor may read', () => {
      const attending = actor({ roles: ['attending'] });
      expect(can(defaultPolicy, attending, 'read', 'Observation', onMyCareTeam)).toBe(true);
      for (const action of ['sign', 'copy', 'seal', 'unseal', 'audit'] as const) {
        expect(can(defaultPolicy, attending, action, 'Observation', onMyCareTeam)).toBe(false);
      }
      // Printing and exporting are the treating team's: a nurse who may read may not.
      expect(can(defaultPolicy, attending, 'print', 'Observation', onMyCareTeam)).toBe(true);
      expect(can(defaultPolicy, attending, 'export', 'Patient', onMyCareTeam)).toBe(true);
      const nurse = actor({ roles: ['nurse'], department: 'cardiology' });
      expect(can(defaultPolicy, nurse, 'read', 'Patient', onMyCareTeam)).toBe(true);
      expect(can(defaultPolicy, nurse, 'update', 'Patient', onMyCareTeam)).toBe(false);
      for (const action of ['print', 'export'] as const) expect(can(defaultPolicy, nurse, action, 'Patient', onMyCareTeam)).toBe(false);
    });

    it('R-02: admin has no clinical access, only the directory and explanations', () => {
      const admin = actor({ roles: ['admin'], department: 'cardiology' });
      for (const type of ['Patient', 'Observation', 'Encounter', 'Composition']) {
        expect(can(defaultPolicy, admin, 'read', type, { ...onMyCareTeam, ...inMyDepartment })).toBe(false);
      }
      expect(can(defaultPolicy, admin, 'update', 'Practitioner')).toBe(true);
      expect(buildAbility(defaultPolicy, admin).can('explain', 'Policy')).toBe(true);
    });

    it('R-02: a type outside every rule is denied (AuditEvent for a clinician)', () => {
      expect(can(defaultPolicy, actor({ roles: ['chief'], department: 'cardiology' }), 'read', 'AuditEvent', { ...onMyCareTeam, ...inMyDepartment })).toBe(false);
    });
  });

  describe('R-03 care relationship and department', () => {
    it('R-03: an attending on the patient\'s care team may read, search, create and update, by the care-team rule', () => {
      const attending = actor({ roles: ['attending'] });
      for (const action of ['read', 'search', 'create', 'update'] as const) {
        expect(decide(defaultPolicy, attending, action, 'Observation', onMyCareTeam)).toEqual({ allowed: true, rule: 'attending.care-team' });
      }
    });

    it('R-03: the department rule opens the patients of the actor\'s department, and only those', () => {
      const attending = actor({ roles: ['attending'], department: 'cardiology' });
      expect(decide(defaultPolicy, attending, 'read', 'Encounter', inMyDepartment)).toEqual({ allowed: true, rule: 'attending.department' });
      expect(can(defaultPolicy, attending, 'read', 'Encounter', { departments: ['neurology'] })).toBe(false);
      expect(can(defaultPolicy, attending, 'read', 'Encounter', { departments: [] })).toBe(false);
    });

    it('R-03: a resident may read in the department but write only on the care team', () => {
      const resident = actor({ roles: ['resident'], department: 'cardiology' });
      expect(can(defaultPolicy, resident, 'read', 'Observation', inMyDepartment)).toBe(true);
      expect(can(defaultPolicy, resident, 'update', 'Observation', inMyDepartment)).toBe(false);
      expect(can(defaultPolicy, resident, 'update', 'Observation', onMyCareTeam)).toBe(true);
    });

    it('R-03: an intern\'s access ends with the care window even on the care team', () => {
      const intern = actor({ roles: ['intern'], department: 'cardiology' });
      expect(can(defaultPolicy, intern, 'read', 'Observation', { ...onMyCareTeam, withinCareWindow: true })).toBe(true);
      expect(can(defaultPolicy, intern, 'read', 'Observation', { ...onMyCareTeam, withinCareWindow: false })).toBe(false);
      expect(can(defaultPolicy, intern, 'read', 'Observation', { ...inMyDepartment, withinCareWindow: true })).toBe(false);
    });

    it('R-03: an actor without a department gets no same-department rule (never "department = undefined")', () => {
      const resident = actor({ roles: ['resident'] });
      const ability = buildAbility(defaultPolicy, resident);
      expect(ability.rules.map((r) => r.reason)).not.toContain('resident.department');
      expect(ability.rules.some((r) => r.conditions && 'departments' in (r.conditions as object))).toBe(false);
      expect(can(defaultPolicy, resident, 'read', 'Observation', { departments: [] })).toBe(false);
      expect(can(defaultPolicy, resident, 'read', 'Observation', { departments: [undefined as unknown as string] })).toBe(false);
      // the care-team rule still applies
      expect(can(defaultPolicy, resident, 'read', 'Observation', onMyCareTeam)).toBe(true);
    });

    it('R-03: a nurse reads the department\'s patients only inside the care window', () => {
      const nurse = actor({ roles: ['nurse'], department: 'cardiology' });
      expect(can(defaultPolicy, nurse, 'read', 'Observation', { ...inMyDepartment, withinCareWindow: true })).toBe(true);
      expect(can(defaultPolicy, nurse, 'read', 'Observation', { ...inMyDepartment, withinCareWindow: false })).toBe(false);
      expect(can(defaultPolicy, nurse, 'update', 'Observation', { ...inMyDepartment, withinCareWindow: true })).toBe(true);
      expect(can(defaultPolicy, nurse, 'update', 'Condition', { ...inMyDepartment, withinCareWindow: true })).toBe(false);
    });
  });

  describe('R-07 confidentiality labels', () => {
    it('R-07: a rule without labels covers the default U/L/M/N, not R or V', () => {
      const attending = actor({ roles: ['attending'] });
      for (const label of ['U', 'L', 'M', 'N'] as const) expect(can(defaultPolicy, attending, 'read', 'Observation', { ...onMyCareTeam, label })).toBe(true);
      for (const label of ['R', 'V'] as const) expect(can(defaultPolicy, attending, 'read', 'Observation', { ...onMyCareTeam, label })).toBe(false);
    });

    it('R-07: R and V need a rule that names them (chief: R; medical-affairs: R and V)', () => {
      const chief = actor({ roles: ['chief'], department: 'cardiology' });
      expect(decide(defaultPolicy, chief, 'read', 'Observation', { ...inMyDepartment, label: 'R' })).toEqual({ allowed: true, rule: 'chief.department' });
      expect(can(defaultPolicy, chief, 'read', 'Observation', { ...inMyDepartment, label: 'V' })).toBe(false);
      const affairs = actor({ roles: ['medical-affairs'] });
      expect(decide(defaultPolicy, affairs, 'read', 'Observation', { label: 'V' })).toEqual({ allowed: true, rule: 'medical-affairs.records' });
    });

    it('R-07: a rule\'s labels replace the defaults, and the defaults are policy data', () => {
      const policy = policyWith(
        {
          viewer: { rules: [{ id: 'viewer.plain', allow: ['read'], on: ['record'] }, { id: 'viewer.restricted-only', allow: ['search'], on: ['record'], labels: ['R'] }] },
        },
        { defaultLabels: ['N'] },
      );
      const viewer = actor({ roles: ['viewer'] });
      expect(can(policy, viewer, 'read', 'Observation', { label: 'N' })).toBe(true);
      expect(can(policy, viewer, 'read', 'Observation', { label: 'U' })).toBe(false);
      expect(can(policy, viewer, 'search', 'Observation', { label: 'R' })).toBe(true);
      expect(can(policy, viewer, 'search', 'Observation', { label: 'N' })).toBe(false);
    });

    it('R-07: labels do not apply to workflow subjects (AccessGrant, BreakGlass, Policy)', () => {
      const affairs = buildAbility(defaultPolicy, actor({ roles: ['medical-affairs'] }));
      expect(affairs.can('approve', 'AccessGrant')).toBe(true);
      expect(affairs.can('review', 'BreakGlass')).toBe(true);
      const rule = affairs.rules.find((r) => r.subject === 'AccessGrant');
      expect(rule?.conditions).toBeUndefined();
    });
  });

  describe('deny rules outrank allow rules (R-02)', () => {
    const policy = policyWith({
      doctor: {
        rules: [
          { id: 'doctor.no-restricted', deny: ['read', 'search'], on: ['record'], labels: ['R', 'V'] },
          { id: 'doctor.no-erroneous', deny: ['read'], on: ['Observation'], when: { status: ['entered-in-error'] } },
          { id: 'doctor.all', allow: ['read', 'search', 'update'], on: ['record'], labels: ['U', 'L', 'M', 'N', 'R', 'V'] },
        ],
      },
      locked: { rules: [{ id: 'locked.nothing', deny: ['update'], on: ['record'] }] },
    });

    it('R-02: a deny rule wins over an allow rule that also matches, wherever it is written', () => {
      const doctor = actor({ roles: ['doctor'] });
      expect(decide(policy, doctor, 'read', 'Observation', { label: 'N' })).toEqual({ allowed: true, rule: 'doctor.all' });
      expect(decide(policy, doctor, 'read', 'Observation', { label: 'R' })).toEqual({ allowed: false, rule: 'doctor.no-restricted' });
      expect(decide(policy, doctor, 'read', 'Observation', { label: 'V' })).toEqual({ allowed: false, rule: 'doctor.no-restricted' });
      expect(decide(policy, doctor, 'read', 'Observation', { status: 'entered-in-error' })).toEqual({ allowed: false, rule: 'doctor.no-erroneous' });
      expect(can(policy, doctor, 'read', 'Observation', { status: 'final' })).toBe(true);
      // a deny without labels covers every label
      expect(can(policy, doctor, 'update', 'Observation', { label: 'N' })).toBe(true);
    });

    it('R-02: a deny from one of the actor\'s roles wins over an allow from another', () => {
      const both = actor({ roles: ['doctor', 'locked'] });
      expect(decide(policy, both, 'update', 'Patient', { label: 'N' })).toEqual({ allowed: false, rule: 'locked.nothing' });
      expect(can(policy, both, 'read', 'Patient', { label: 'N' })).toBe(true);
    });
  });

  describe('conditions on the actor (licence, specialty)', () => {
    const policy = policyWith({
      physician: {
        rules: [
          { id: 'physician.licensed', allow: ['update'], on: ['record'], actor: { licence: ['licensed'] } },
          { id: 'physician.cardio', allow: ['read'], on: ['record'], actor: { specialty: ['cardio', 'cardiac-surgery'] } },
          { id: 'physician.no-visiting-search', deny: ['search'], on: ['record'], actor: { licence: ['visiting'] } },
          { id: 'physician.search', allow: ['search'], on: ['record'] },
        ],
      },
    });

    it('R-02: a licence condition admits only the licences it names; an actor whose token says nothing is not licensed', () => {
      expect(can(policy, actor({ roles: ['physician'], licence: 'licensed' }), 'update', 'Observation')).toBe(true);
      for (const licence of ['intern', 'probation', 'visiting'] as const) {
        expect(can(policy, actor({ roles: ['physician'], licence }), 'update', 'Observation')).toBe(false);
      }
      expect(can(policy, actor({ roles: ['physician'] }), 'update', 'Observation')).toBe(false);
    });

    it('R-03: a specialty condition admits only the specialties it names', () => {
      expect(can(policy, actor({ roles: ['physician'], specialty: 'cardio' }), 'read', 'Observation')).toBe(true);
      expect(can(policy, actor({ roles: ['physician'], specialty: 'neuro' }), 'read', 'Observation')).toBe(false);
      expect(can(policy, actor({ roles: ['physician'] }), 'read', 'Observation')).toBe(false);
    });

    it('R-02: a deny rule with an actor condition applies only to the actors it names', () => {
      expect(can(policy, actor({ roles: ['physician'], licence: 'visiting' }), 'search', 'Observation')).toBe(false);
      expect(can(policy, actor({ roles: ['physician'], licence: 'licensed' }), 'search', 'Observation')).toBe(true);
      expect(can(policy, actor({ roles: ['physician'] }), 'search', 'Observation')).toBe(true);
    });
  });

  describe('R-04 break-the-glass and R-05 grants', () => {
    const attending = actor({ roles: ['attending'], department: 'cardiology' });
    const grant = { grantees: ['u-me'] };
    const glass = { breakGlass: ['u-me'] };

    it('R-05: an approved grant opens read and search of that patient, nothing more', () => {
      expect(decide(defaultPolicy, attending, 'read', 'Observation', grant)).toEqual({ allowed: true, rule: 'attending.grant' });
      expect(can(defaultPolicy, attending, 'search', 'Observation', grant)).toBe(true);
      expect(can(defaultPolicy, attending, 'update', 'Observation', grant)).toBe(false);
      expect(can(defaultPolicy, attending, 'read', 'Observation', { grantees: ['someone-else'] })).toBe(false);
      expect(can(defaultPolicy, attending, 'read', 'Observation', { ...grant, label: 'R' })).toBe(false);
    });

    it('R-04: break-the-glass opens read and search for the roles the policy names, with the labels the rule names', () => {
      expect(decide(defaultPolicy, attending, 'read', 'Observation', glass)).toEqual({ allowed: true, rule: 'attending.break-glass' });
      expect(can(defaultPolicy, attending, 'read', 'Observation', { ...glass, label: 'R' })).toBe(true);
      expect(can(defaultPolicy, attending, 'read', 'Observation', { ...glass, label: 'V' })).toBe(false);
      expect(can(defaultPolicy, attending, 'update', 'Observation', glass)).toBe(false);
      const nurse = actor({ roles: ['nurse'] });
      expect(can(defaultPolicy, nurse, 'read', 'Observation', glass)).toBe(true);
      expect(can(defaultPolicy, nurse, 'read', 'Observation', { ...glass, label: 'R' })).toBe(false);
      expect(can(defaultPolicy, actor({ roles: ['intern'] }), 'read', 'Observation', glass)).toBe(false);
    });

    it('R-04/R-05: the rule reported prefers an ordinary rule over grant and break-the-glass ones, and a grant over break-the-glass', () => {
      expect(decide(defaultPolicy, attending, 'read', 'Observation', { ...onMyCareTeam, ...grant, ...glass }).rule).toBe('attending.care-team');
      expect(decide(defaultPolicy, attending, 'read', 'Observation', { ...inMyDepartment, ...glass }).rule).toBe('attending.department');
      expect(decide(defaultPolicy, attending, 'read', 'Observation', { ...grant, ...glass }).rule).toBe('attending.grant');
      // where only break-the-glass covers the label, it is the one reported
      expect(decide(defaultPolicy, attending, 'read', 'Observation', { ...onMyCareTeam, ...glass, label: 'R' }).rule).toBe('attending.break-glass');
    });
  });

  describe('expandSubjects', () => {
    it('expands group names to their types, keeps type names, and removes duplicates', () => {
      expect(expandSubjects(defaultPolicy, ['directory', 'Practitioner', 'AccessGrant'])).toEqual([
        ...['Practitioner', 'PractitionerRole', 'Organization', 'OrganizationAffiliation', 'Location', 'HealthcareService', 'Endpoint'],
        ...['Device', 'DeviceDefinition', 'Medication', 'MedicationKnowledge', 'Substance', 'InsurancePlan', 'Slot', 'AccessGrant'],
      ]);
    });

    it('R-02: a name that is only an Object.prototype member is not a group', () => {
      expect(expandSubjects(defaultPolicy, ['constructor', 'toString', '__proto__'])).toEqual(['constructor', 'toString', '__proto__']);
      expect(ownValue(defaultPolicy.roles, 'constructor')).toBeUndefined();
      expect(ownValue(defaultPolicy.roles, '__proto__')).toBeUndefined();
      expect(ownValue(defaultPolicy.roles, 'nurse')?.rules.length).toBeGreaterThan(0);
    });
  });
});

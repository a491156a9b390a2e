import { subject } from '@casl/ability';
import type { Actor } from '../../identity/actor.js';
import { loadR4Definitions } from '../../store/fhir-definitions.js';
import { defaultPolicyPath, loadPolicy } from '../policy.loader.js';
import type { Action } from './actions.js';
import { buildAbility } from './ability.factory.js';
import { parseScopes, scopeLimit } from './smart-scopes.js';
import type { SubjectAttributes } from './subject-attributes.js';

/*
 * SMART on FHIR scopes (issue #3) only ever narrow what the policy allows: parsing (v1 and
 * v2), the limit per action and type, and their effect on the compiled ability.
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */

const letters = (scope: string) => [...(parseScopes([scope])[0]?.permissions ?? [])].sort().join('');

describe('parseScopes', () => {
  it('reads SMART v1 scopes: read = r+s, write = c+u+d, * = everything', () => {
    expect(parseScopes(['patient/*.read'])).toEqual([{ context: 'patient', type: '*', permissions: new Set(['r', 's']) }]);
    expect(letters('user/Observation.write')).toBe('cdu');
    expect(letters('system/*.*')).toBe('cdrsu');
  });

  it('reads SMART v2 scopes letter by letter', () => {
    expect(parseScopes(['user/Observation.rs'])).toEqual([{ context: 'user', type: 'Observation', permissions: new Set(['r', 's']) }]);
    expect(letters('patient/Patient.r')).toBe('r');
    expect(letters('system/Encounter.cruds')).toBe('cdrsu');
  });

  it('grants nothing for letters out of the SMART order or unknown letters (never guesses)', () => {
    expect(letters('user/Observation.sr')).toBe('');
    expect(letters('user/Observation.rx')).toBe('');
  });

  it('R-02: a permission named after an Object.prototype member (user/Observation.constructor) grants nothing', () => {
    expect(letters('user/Observation.constructor')).toBe('');
    expect(scopeLimit(['user/*.constructor'], 'read', 'Observation', undefined)).toEqual({ kind: 'denied' });
  });

  it('skips non-resource scopes and refuses v2 fine-grained restrictions rather than ignoring them', () => {
    expect(parseScopes(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access', 'profile'])).toEqual([]);
    expect(parseScopes(['patient/Observation.rs?category=laboratory'])).toEqual([]);
  });
});

describe('scopeLimit', () => {
  it('a token with no scope claim is not a SMART token and is not narrowed', () => {
    expect(scopeLimit([], 'read', 'Observation', undefined)).toEqual({ kind: 'none' });
  });

  it('actions that are not FHIR REST interactions are outside SMART and not narrowed', () => {
    for (const action of ['sign', 'export', 'print', 'seal', 'approve'] as const) {
      expect(scopeLimit(['openid'], action, 'Observation', undefined)).toEqual({ kind: 'none' });
    }
  });

  it('user/ and system/ scopes leave the policy as it is; patient/ scopes limit to the launch patient', () => {
    expect(scopeLimit(['user/*.read'], 'read', 'Observation', undefined)).toEqual({ kind: 'none' });
    expect(scopeLimit(['system/Observation.rs'], 'search', 'Observation', undefined)).toEqual({ kind: 'none' });
    expect(scopeLimit(['patient/*.read'], 'read', 'Observation', 'pt-1')).toEqual({ kind: 'patient', patient: 'pt-1' });
    expect(scopeLimit(['patient/*.read'], 'read', 'Observation', undefined)).toEqual({ kind: 'patient', patient: undefined });
    expect(scopeLimit(['patient/*.read', 'user/Observation.r'], 'read', 'Observation', 'pt-1')).toEqual({ kind: 'none' });
  });

  it('whatever no scope covers is denied: another type, another letter, or only openid', () => {
    expect(scopeLimit(['user/Observation.rs'], 'read', 'Patient', undefined)).toEqual({ kind: 'denied' });
    expect(scopeLimit(['user/Observation.r'], 'search', 'Observation', undefined)).toEqual({ kind: 'denied' });
    expect(scopeLimit(['user/Observation.rs'], 'update', 'Observation', undefined)).toEqual({ kind: 'denied' });
    expect(scopeLimit(['openid'], 'read', 'Observation', undefined)).toEqual({ kind: 'denied' });
    expect(scopeLimit(['patient/Observation.rs?category=laboratory'], 'read', 'Observation', 'pt-1')).toEqual({ kind: 'denied' });
  });
});

describe('SMART scopes in the compiled ability: they only narrow the policy', () => {
  const policy = loadPolicy(defaultPolicyPath(), loadR4Definitions());
  const ME = 'Practitioner/pr-me';
  /** An attending on the care team of every patient: the policy alone allows read, search, create, update. */
  const attending = (scopes: string[], patientContext?: string): Actor => ({ id: 'u-me', practitioner: ME, roles: ['attending'], scopes, ...(patientContext ? { patientContext } : {}) });
  const record = (type: string, patient: string, over: Partial<SubjectAttributes> = {}) =>
    subject(type, {
      type,
      patient,
      withinCareWindow: true,
      careTeam: [ME],
      departments: [],
      grantees: [],
      breakGlass: [],
      authors: [],
      docType: [],
      label: 'N',
      ...over,
    } satisfies SubjectAttributes);
  const ACTIONS: Action[] = ['read', 'search', 'create', 'update'];
  const TYPES = ['Patient', 'Encounter', 'Observation', 'Condition'];
  const grid = (who: Actor) => {
    const ability = buildAbility(policy, who);
    return TYPES.flatMap((type) => ['pt-1', 'pt-2'].flatMap((p) => ACTIONS.map((a) => `${a} ${type}/${p}: ${ability.can(a, record(type, p))}`)));
  };

  it('R-02: a token with no scopes is not narrowed: the ability is the policy\'s', () => {
    expect(buildAbility(policy, attending([])).rules.some((r) => r.reason === 'smart-scope')).toBe(false);
    expect(grid(attending([])).filter((line) => line.endsWith('false'))).toEqual([]);
  });

  it('R-02: v1 patient/*.read with a patient context: read and search of that patient only, no writes', () => {
    const ability = buildAbility(policy, attending(['patient/*.read'], 'pt-1'));
    for (const type of TYPES) {
      expect(ability.can('read', record(type, 'pt-1'))).toBe(true);
      expect(ability.can('search', record(type, 'pt-1'))).toBe(true);
      expect(ability.can('read', record(type, 'pt-2'))).toBe(false);
      expect(ability.can('search', record(type, 'pt-2'))).toBe(false);
      expect(ability.can('update', record(type, 'pt-1'))).toBe(false);
      expect(ability.can('create', record(type, 'pt-1'))).toBe(false);
    }
    expect(ability.relevantRuleFor('read', record('Observation', 'pt-2'))?.reason).toBe('smart-scope');
  });

  it('R-02: v1 patient/*.read without a patient context denies everything', () => {
    expect(grid(attending(['patient/*.read'])).filter((line) => line.endsWith('true'))).toEqual([]);
  });

  it('R-02: v2 user/Observation.rs allows read and search on Observation only', () => {
    const ability = buildAbility(policy, attending(['user/Observation.rs']));
    expect(ability.can('read', record('Observation', 'pt-1'))).toBe(true);
    expect(ability.can('search', record('Observation', 'pt-2'))).toBe(true);
    expect(ability.can('create', record('Observation', 'pt-1'))).toBe(false);
    expect(ability.can('update', record('Observation', 'pt-1'))).toBe(false);
    for (const type of ['Patient', 'Encounter', 'Condition']) {
      for (const action of ACTIONS) expect(ability.can(action, record(type, 'pt-1'))).toBe(false);
    }
  });

  it('R-02: openid alone (scopes, but no resource scope) denies every FHIR action', () => {
    expect(grid(attending(['openid'])).filter((line) => line.endsWith('true'))).toEqual([]);
    expect(grid(attending(['openid', 'fhirUser', 'offline_access'])).filter((line) => line.endsWith('true'))).toEqual([]);
  });

  it('R-02/R-03/R-07: the broadest scopes never widen the policy: R/V labels, other patients off the care team, unallowed actions stay denied', () => {
    const ability = buildAbility(policy, attending(['user/*.*', 'system/*.*']));
    expect(ability.can('read', record('Observation', 'pt-1'))).toBe(true);
    expect(ability.can('read', record('Observation', 'pt-1', { label: 'R' }))).toBe(false);
    expect(ability.can('read', record('Observation', 'pt-1', { careTeam: [] }))).toBe(false);
    expect(ability.can('sign', record('Observation', 'pt-1'))).toBe(false);
    const nurse = buildAbility(policy, { id: 'n-1', practitioner: ME, roles: ['nurse'], scopes: ['user/*.*'] });
    expect(nurse.can('read', record('Patient', 'pt-1'))).toBe(true);
    expect(nurse.can('update', record('Patient', 'pt-1'))).toBe(false);
  });

  it('workflow actions and non-REST actions are outside SMART: scopes do not take them away', () => {
    const affairs = buildAbility(policy, { id: 'ma-1', practitioner: 'Practitioner/ma-1', roles: ['medical-affairs'], scopes: ['openid'] });
    expect(affairs.can('approve', 'AccessGrant')).toBe(true);
    expect(affairs.can('read', record('Observation', 'pt-1'))).toBe(false);
    const recordRoom = buildAbility(policy, { id: 'rr-1', practitioner: 'Practitioner/rr-1', roles: ['record-room'], scopes: ['openid'] });
    expect(recordRoom.can('print', record('Observation', 'pt-1'))).toBe(true);
    expect(recordRoom.can('read', record('Observation', 'pt-1'))).toBe(false);
  });
});

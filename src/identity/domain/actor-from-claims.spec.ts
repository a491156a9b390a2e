import { DEFAULT_CLAIM_NAMES } from '../../config/chartwarden.options.js';
import { actorFromClaims, ClaimsError } from './actor-from-claims.js';

describe('actorFromClaims', () => {
  it('R-01: maps the token claims to one identified operator', () => {
    const actor = actorFromClaims(
      { sub: 'dr-wang', roles: ['attending', 'chief'], dept: 'cardiology', specialty: 'cardio', licence: 'licensed', scope: 'user/*.rs patient/Observation.read' },
      DEFAULT_CLAIM_NAMES,
    );
    expect(actor).toEqual({
      id: 'dr-wang',
      practitioner: 'Practitioner/dr-wang',
      roles: ['attending', 'chief'],
      department: 'cardiology',
      specialty: 'cardio',
      licence: 'licensed',
      scopes: ['user/*.rs', 'patient/Observation.read'],
    });
  });

  it('prefers fhirUser and accepts roles as a comma list', () => {
    const actor = actorFromClaims({ sub: 'u1', fhirUser: 'Practitioner/p-9', roles: 'nurse,resident' }, DEFAULT_CLAIM_NAMES);
    expect(actor.practitioner).toBe('Practitioner/p-9');
    expect(actor.roles).toEqual(['nurse', 'resident']);
    expect(actor.licence).toBeUndefined();
  });

  it('R-01: refuses a token without a subject', () => {
    expect(() => actorFromClaims({ roles: ['nurse'] }, DEFAULT_CLAIM_NAMES)).toThrow(ClaimsError);
  });

  it('refuses an unknown licence status rather than guessing', () => {
    expect(() => actorFromClaims({ sub: 'x', licence: 'senior' }, DEFAULT_CLAIM_NAMES)).toThrow(/licence/);
  });

  it('honours a custom claim mapping', () => {
    const actor = actorFromClaims({ sub: 'x', groups: ['auditor'], ou: 'records' }, { ...DEFAULT_CLAIM_NAMES, roles: 'groups', department: 'ou' });
    expect(actor.roles).toEqual(['auditor']);
    expect(actor.department).toBe('records');
  });
});

import { OWNER_LINKS } from '../../migrations/1765300000000-CompartmentFacts.js';
import { PatientCompartment } from './patient-compartment.js';

describe('PatientCompartment: whose record a resource is (decision 0016)', () => {
  const compartment = PatientCompartment.fromProfiles();
  const ref = (param: string, id: string, targetType = 'Patient') => ({ param, targetType, targetId: id });

  it('R-03: the owner is the first link naming a Patient, patient/subject/beneficiary/individual before the compartment\'s order', () => {
    expect(compartment.linkParams('Invoice')).toEqual(['patient', 'subject', 'recipient']);
    expect(compartment.linkParams('Coverage')).toEqual(['beneficiary', 'policy-holder', 'subscriber', 'payor']);
    expect(compartment.ownerOf('Invoice', 'i', [ref('recipient', 'b'), ref('subject', 'a')])).toBe('a');
    expect(compartment.ownerOf('Coverage', 'c', [ref('policy-holder', 'b'), ref('beneficiary', 'a')])).toBe('a');
    expect(compartment.ownerOf('Appointment', 'x', [ref('actor', 'p'), ref('actor', 'dr', 'Practitioner')])).toBe('p');
    // Of several Patients behind one link, the first by code unit ("C" collation: upper case first).
    expect(compartment.ownerOf('Appointment', 'x', [ref('actor', 'alpha'), ref('actor', 'Zed')])).toBe('Zed');
  });

  it('R-03: a Patient is its own; a Group and a resource linking no Patient have none', () => {
    expect(compartment.ownerOf('Patient', 'p', [])).toBe('p');
    expect(compartment.ownerOf('Group', 'g', [ref('member', 'p')])).toBeUndefined();
    expect(compartment.ownerOf('Observation', 'o', [ref('subject', 'g', 'Group')])).toBeUndefined();
    expect(compartment.ownerOf('Practitioner', 'dr', [])).toBeUndefined();
  });

  it('the backfill migration files existing records by the rule new versions are filed by (a change to the rule needs a new migration)', () => {
    const rule = Object.fromEntries(compartment.ownedTypes().map((type) => [type, [...compartment.linkParams(type)]]));
    expect(OWNER_LINKS).toEqual(rule);
  });
});

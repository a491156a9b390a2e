import { SystemClock } from '../common/clock.js';
import type { Actor } from '../identity/actor.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { AccessPolicyService } from './access-policy.service.js';
import { ActiveAccessSource, type ActiveAccess } from './active-access.port.js';
import { LoadedPolicy } from './loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from './policy.loader.js';

class NoGrants extends ActiveAccessSource {
  async activeFor(): Promise<ActiveAccess> {
    return { grants: [], breakGlass: [] };
  }
}

describe('AccessPolicyService', () => {
  const service = new AccessPolicyService(new LoadedPolicy(loadPolicy(defaultPolicyPath(), loadR4Definitions())), new NoGrants(), new SystemClock());
  const actor = (roles: string[], department?: string): Actor => ({ id: 'u1', practitioner: 'Practitioner/u1', roles, department, scopes: [] });

  it('asks for the patient context only when a rule of the actor reads it (a HIS create needs none)', () => {
    expect(service.needsContext(actor(['his-system']), 'create', 'Observation')).toBe(false);
    expect(service.needsContext(actor(['attending'], 'cardio'), 'create', 'Observation')).toBe(true);
    expect(service.needsContext(actor(['admin']), 'read', 'Observation')).toBe(false);
  });

  it('R-02: reuses the same rule checks for the same actor, action and type, and builds new ones for another', async () => {
    const a = actor(['attending'], 'cardio');
    const first = await service.ruleChecks(a, 'read', 'Observation');
    expect(await service.ruleChecks(a, 'read', 'Observation')).toBe(first);
    expect(await service.ruleChecks(a, 'search', 'Observation')).not.toBe(first);
    expect(first.map((c) => c.rule)).toEqual(expect.arrayContaining(['attending.care-team', 'attending.department']));
    // highest priority first: ordinary rules before grant and break-the-glass ones
    expect(first.findIndex((c) => c.rule === 'attending.care-team')).toBeLessThan(first.findIndex((c) => c.rule === 'attending.break-glass'));
  });

  it('R-02: an actor with no known role gets no rule checks at all (denied)', async () => {
    expect(await service.ruleChecks(actor(['janitor']), 'read', 'Observation')).toEqual([]);
    expect((await service.pick(actor(['janitor']), [], -1, 'p1')).allowed).toBe(false);
  });
});

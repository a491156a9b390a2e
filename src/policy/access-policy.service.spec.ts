import type { Announcement, ClusterEvents, ClusterHandler, Delivery } from '../cluster/cluster-events.js';
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

/** Counts the lookups of an actor's grants. */
class CountedGrants extends ActiveAccessSource {
  lookups = 0;
  async activeFor(): Promise<ActiveAccess> {
    this.lookups++;
    return { grants: [], breakGlass: [] };
  }
}

/** The cluster bus as the service sees it: whether it listens, and announcements whose delivery the test releases. */
class FakeCluster {
  listening = true;
  handlers: ClusterHandler[] = [];
  release: (() => void)[] = [];
  subscribe(_topic: string, handler: ClusterHandler): void {
    this.handlers.push(handler);
  }
  async publish(): Promise<Announcement> {
    return {
      delivered: () => new Promise<Delivery>((resolve) => this.release.push(() => resolve({ peers: 1, acknowledged: 1 }))),
    };
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

  describe('R-05: grants cached between instances (decision 0012)', () => {
    const policy = new LoadedPolicy(loadPolicy(defaultPolicyPath(), loadR4Definitions()));
    const attending = actor(['attending'], 'cardio');

    it('reuses an actor\'s grants while the cluster bus listens, and reads them at every decision while it does not', async () => {
      const grants = new CountedGrants();
      const cluster = new FakeCluster();
      const service = new AccessPolicyService(policy, grants, new SystemClock(), undefined, cluster as unknown as ClusterEvents);
      await service.filter(attending, 'read', ['Observation']);
      await service.filter(attending, 'read', ['Observation']);
      expect(grants.lookups).toBe(1);
      cluster.listening = false;
      await service.filter(attending, 'read', ['Observation']);
      await service.filter(attending, 'read', ['Observation']);
      expect(grants.lookups).toBe(3);
      // Listening again: reused; then another instance's event drops the cache, and the next decision reads again.
      cluster.listening = true;
      await service.filter(attending, 'read', ['Observation']);
      expect(grants.lookups).toBe(3);
      cluster.handlers.forEach((h) => h(['u1']));
      await service.filter(attending, 'read', ['Observation']);
      expect(grants.lookups).toBe(4);
    });

    it('a change of grants returns only once the other instances were told and answered', async () => {
      const grants = new CountedGrants();
      const cluster = new FakeCluster();
      const service = new AccessPolicyService(policy, grants, new SystemClock(), undefined, cluster as unknown as ClusterEvents);
      await service.filter(attending, 'read', ['Observation']);
      let returned = false;
      const invalidated = service.invalidate('u1').then(() => (returned = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(returned).toBe(false);
      // This instance forgot at once, before the others answered.
      await service.filter(attending, 'read', ['Observation']);
      expect(grants.lookups).toBe(2);
      expect(cluster.release).toHaveLength(1);
      cluster.release[0]();
      await invalidated;
      expect(returned).toBe(true);
    });
  });
});

import type { Announcement, ClusterEvents, ClusterHandler, Delivery } from '../cluster/cluster-events.js';
import type { Withholding } from '../policy/withheld-records.port.js';
import { DisputeWithholdings } from './dispute-withholdings.js';
import type { DisputesRepository } from './disputes.repository.js';

/** The sealed public-incident inventory, counting its reads. */
class CountedCases {
  reads = 0;
  async withheld(): Promise<readonly Withholding[]> {
    this.reads++;
    return [];
  }
}

/** The cluster bus as the withholdings see it: whether it listens, and its `withheld` handlers. */
class FakeCluster {
  listening = true;
  handlers: ClusterHandler[] = [];
  subscribe(_topic: string, handler: ClusterHandler): void {
    this.handlers.push(handler);
  }
}

describe('DisputeWithholdings (R-44, decision 0012)', () => {
  const make = () => {
    const cases = new CountedCases();
    const cluster = new FakeCluster();
    const withholdings = new DisputeWithholdings(cases as unknown as DisputesRepository, cluster as unknown as ClusterEvents);
    return { cases, cluster, withholdings };
  };

  it('reuses the inventory while the cluster bus listens, drops it on another instance\'s event, and reads it at every decision while the bus is down', async () => {
    const { cases, cluster, withholdings } = make();
    await withholdings.current();
    await withholdings.current();
    expect(cases.reads).toBe(1);
    cluster.handlers.forEach((h) => h(undefined));
    await withholdings.current();
    expect(cases.reads).toBe(2);
    cluster.listening = false;
    await withholdings.current();
    await withholdings.current();
    expect(cases.reads).toBe(4);
  });

  it('after a seal commits: forgets at once, and returns only once the other instances answered', async () => {
    const { cases, withholdings } = make();
    await withholdings.current();
    let release = () => {};
    const announcement: Announcement = { delivered: () => new Promise<Delivery>((resolve) => (release = () => resolve({ peers: 1, acknowledged: 1 }))) };
    let returned = false;
    const changed = withholdings.changed(announcement).then(() => (returned = true));
    await withholdings.current();
    expect(cases.reads).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(returned).toBe(false);
    release();
    await changed;
    expect(returned).toBe(true);
  });
});

import { Injectable, Optional } from '@nestjs/common';
import { ClusterEvents, type Announcement } from '../cluster/cluster-events.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { WithheldRecordsSource, type Withholding } from '../policy/withheld-records.port.js';
import { DisputesRepository } from './disputes.repository.js';

/**
 * How long the list of withheld records is reused before it is read again when no cluster
 * event says it changed: the bound on staleness while the event connection is down.
 */
const TTL_MS = 1000;

/**
 * Records withheld from everyone but the case team: the inventory of every sealed
 * public-incident case. Read once a second at most (there are few such cases, and every
 * decision asks), at once after this process seals, supplements or unseals, and at once after
 * another instance on the database did (cluster event `withheld`, sent in the transaction of
 * the seal: decision 0012).
 */
@Injectable()
export class DisputeWithholdings extends WithheldRecordsSource {
  private cached?: { at: number; value: Promise<readonly Withholding[]> };

  constructor(
    private readonly cases: DisputesRepository,
    @Optional() private readonly cluster?: ClusterEvents,
  ) {
    super();
    cluster?.subscribe('withheld', () => this.invalidate());
  }

  current(): Promise<readonly Withholding[]> {
    // While this instance is not listening, another's seal would not reach it: nothing is reused.
    const trusted = this.cluster?.listening ?? true;
    if (this.cached && trusted && Date.now() - this.cached.at < TTL_MS) return this.cached.value;
    const value = this.load();
    this.cached = { at: Date.now(), value };
    // A failed read is not remembered: the next decision asks again (and fails closed meanwhile).
    value.catch(() => (this.cached = undefined));
    return value;
  }

  /** Sealed cases (every legal hold in force, public incidents or not): a count for the metrics. */
  countSealed(): Promise<number> {
    return this.cases.countSealed();
  }

  /** Forgets the list: the next decision reads it again. Called after this instance's seal, supplement or unseal commits. */
  invalidate(): void {
    this.cached = undefined;
  }

  /**
   * Tells the other instances, inside `unit` (the seal's, supplement's or unseal's), that the
   * withheld records change when it commits; nothing is sent if it rolls back. Once it
   * committed, `changed` with what this returns.
   */
  changedWithin(unit: UnitOfWork): Promise<Announcement | undefined> {
    return this.cases.withheldChangedWithin(unit);
  }

  /**
   * After the change committed: forgets this instance's list, and returns once every other
   * instance has forgotten its own (or, failing an answer, once their lists have expired), so
   * that the step's answer leaves when the change is in force everywhere (R-44: "immediate").
   */
  async changed(announcement: Announcement | undefined): Promise<void> {
    this.invalidate();
    await announcement?.delivered(TTL_MS);
  }

  private load(): Promise<readonly Withholding[]> {
    return this.cases.withheld();
  }
}

import { Injectable } from '@nestjs/common';
import { AccessGrantRepository } from '../access/access-grant.repository.js';
import { Clock } from '../common/clock.js';
import { DisputeWithholdings } from '../disputes/dispute-withholdings.js';

/** What is in force right now, counted at scrape time by the features that own it (one small query each, no ids). */
@Injectable()
export class OperationalCounts {
  constructor(
    private readonly grants: AccessGrantRepository,
    private readonly disputes: DisputeWithholdings,
    private readonly clock: Clock,
  ) {}

  /** Sealed dispute cases: legal holds in force (R-40…R-44). */
  activeHolds(): Promise<number> {
    return this.disputes.countSealed();
  }

  /** Break-the-glass openings not yet ended. */
  activeBreakGlass(): Promise<number> {
    return this.grants.countActiveBreakGlass(this.clock.now());
  }
}

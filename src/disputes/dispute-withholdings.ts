import { Injectable, Optional } from '@nestjs/common';
import { ClusterEvents } from '../cluster/cluster-events.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { WithheldRecordsSource, type Withholding } from '../policy/withheld-records.port.js';

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
    private readonly db: ChartWardenDatabase,
    @Optional() private readonly cluster?: ClusterEvents,
  ) {
    super();
    cluster?.subscribe('withheld', () => this.invalidate());
  }

  current(): Promise<readonly Withholding[]> {
    if (this.cached && Date.now() - this.cached.at < TTL_MS) return this.cached.value;
    const value = this.load();
    this.cached = { at: Date.now(), value };
    // A failed read is not remembered: the next decision asks again (and fails closed meanwhile).
    value.catch(() => (this.cached = undefined));
    return value;
  }

  /** Sealed cases (every legal hold in force, public incidents or not): a count for the metrics. */
  async countSealed(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dispute WHERE status = 'sealed'`);
    return row.n;
  }

  /** Forgets the list: the next decision reads it again. Called after this instance's seal, supplement or unseal commits. */
  invalidate(): void {
    this.cached = undefined;
  }

  /**
   * Tells the other instances, inside `tx` (the seal's, supplement's or unseal's transaction),
   * that the withheld records change when it commits; nothing is sent if it rolls back.
   */
  async changedWithin(tx: Queryable): Promise<void> {
    await this.cluster?.publish('withheld', [], tx);
  }

  private async load(): Promise<readonly Withholding[]> {
    const rows = await this.db.query<{ id: string; team: string[]; resource_type: string; ids: string[] }>(
      `SELECT d.id, d.team, i.resource_type, array_agg(i.resource_id ORDER BY i.resource_id) AS ids
         FROM dispute d JOIN dispute_item i ON i.dispute_id = d.id
        WHERE d.status = 'sealed' AND d.trigger = 'public-incident'
        GROUP BY d.id, d.team, i.resource_type`,
    );
    const byCase = new Map<string, { team: string[]; records: Map<string, string[]> }>();
    for (const r of rows) {
      const c = byCase.get(r.id) ?? { team: r.team, records: new Map<string, string[]>() };
      c.records.set(r.resource_type, r.ids);
      byCase.set(r.id, c);
    }
    return [...byCase].map(([caseId, c]) => ({ caseId, team: c.team, records: c.records }));
  }
}

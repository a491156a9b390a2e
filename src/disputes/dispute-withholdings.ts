import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { WithheldRecordsSource, type Withholding } from '../policy/withheld-records.port.js';

/** How long the list of withheld records is reused before it is read again (another process may have sealed). */
const TTL_MS = 1000;

/**
 * Records withheld from everyone but the case team: the inventory of every sealed
 * public-incident case. Read once a second at most (there are few such cases, and every
 * decision asks), and at once after this process seals, supplements or unseals.
 */
@Injectable()
export class DisputeWithholdings extends WithheldRecordsSource {
  private cached?: { at: number; value: Promise<readonly Withholding[]> };

  constructor(private readonly db: ChartWardenDatabase) {
    super();
  }

  current(): Promise<readonly Withholding[]> {
    if (this.cached && Date.now() - this.cached.at < TTL_MS) return this.cached.value;
    const value = this.load();
    this.cached = { at: Date.now(), value };
    // A failed read is not remembered: the next decision asks again (and fails closed meanwhile).
    value.catch(() => (this.cached = undefined));
    return value;
  }

  invalidate(): void {
    this.cached = undefined;
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

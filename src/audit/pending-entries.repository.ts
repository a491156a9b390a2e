import type { Queryable } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { AuditLog } from './audit-log.js';
import type { AuditEntry } from './domain/audit-entry.js';

/**
 * Audit entries that commit with a unit of work: all of a transaction's entries are
 * appended at once, as its last statement, sent with the COMMIT itself (`commitWith`). A chain
 * head is then never held while the transaction waits for a record's lock (a Bundle's later
 * entry waiting on a seal), which could deadlock with a seal that appends its own entry after
 * its row locks (decision 0008), nor for a round trip between the append and the commit.
 */
export class PendingAuditEntries {
  /** Keyed by the connection: units over one transaction (a Bundle's entries) share one append. */
  private readonly pending = new WeakMap<Queryable, AuditEntry[]>();

  constructor(private readonly log: AuditLog) {}

  async add(unit: UnitOfWork, entry: AuditEntry): Promise<void> {
    const tx = sqlOf(unit);
    if (!tx.commitWith) return this.log.appendWithin(tx, [entry]);
    let entries = this.pending.get(tx);
    if (!entries) {
      const batch: AuditEntry[] = [];
      entries = batch;
      this.pending.set(tx, batch);
      tx.commitWith(() => this.log.appendStatement(batch));
    }
    entries.push(entry);
  }
}

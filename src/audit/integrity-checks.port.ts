import type pg from 'pg';
import type { AuditVerification, IntegrityKind, LedgerVerification, VerificationOf } from './domain/integrity-run.js';

/**
 * Port: one verification run to its end (issue #18): the audit trail's chains (R-21, audit's
 * own `verifyAuditChains`) or the edit ledger (R-12, R-17, governance's `LedgerVerifier`).
 * Audit never reads the ledger's table, so the composition binds this port, as it binds
 * `LedgerHeads` (the root module for the server; the CLI passes its own check to `recordRun`).
 */
export abstract class IntegrityChecks {
  /** Runs the `kind` verification over everything; rejects when it cannot complete, or soon after `signal` aborts. */
  abstract verify<K extends IntegrityKind>(kind: K, signal: AbortSignal): Promise<VerificationOf<K>>;
}

/** Each kind's check over one connection, given to it open and in its snapshot. */
export interface ChecksOverConnection {
  audit(connection: pg.Client): Promise<AuditVerification>;
  ledger(connection: pg.Client): Promise<LedgerVerification>;
}

/**
 * `IntegrityChecks` each on a connection of its own (`connect`: a client not yet connected, e.g.
 * `ChartWardenDatabase.dedicatedClient`, the application role's, outside the request pool and its
 * statement timeout), in one read-only REPEATABLE READ snapshot: a trail or a ledger written
 * while the check runs is seen as it stood when the check began, never half-way (a chain's head
 * read before entries appended after it would look cut). The connection ends when the check does,
 * or at once when `signal` aborts (the server stopping), which fails the check.
 */
export class SnapshotIntegrityChecks extends IntegrityChecks {
  constructor(
    private readonly connect: () => pg.Client,
    private readonly checks: ChecksOverConnection,
  ) {
    super();
  }

  async verify<K extends IntegrityKind>(kind: K, signal: AbortSignal): Promise<VerificationOf<K>> {
    signal.throwIfAborted();
    const client = this.connect();
    client.on('error', () => undefined);
    const stop = () => void client.end().catch(() => undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      await client.connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const report = kind === 'audit' ? await this.checks.audit(client) : await this.checks.ledger(client);
      signal.throwIfAborted();
      return report as VerificationOf<K>;
    } finally {
      signal.removeEventListener('abort', stop);
      stop();
    }
  }
}

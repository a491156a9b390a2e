import type pg from 'pg';
import { takeCheckpoint, verifyCheckpoint, type Checkpoint, type CheckpointDatabase, type CheckpointReport } from '../audit/checkpoint.js';
import { NO_PROGRESS, type Progress } from '../common/progress.js';
import { queryableOf, withOfflineClient } from '../database/offline-connection.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import { DisputesRepository } from '../disputes/disputes.repository.js';
import { checkSeal, type SealReport } from '../disputes/seal-verifier.js';
import { LedgerReadsRepository } from '../governance/ledger-reads.repository.js';
import { LedgerCheckpointHeads, LedgerVerifier, type LedgerReport } from '../governance/ledger-verifier.js';
import { retained, type RetentionReport } from '../governance/retention-report.js';
import { PostgresRecordIndex } from '../store/postgres/postgres-record-index.js';

/**
 * The offline commands' composition: each opens its own connection to `databaseUrl` and hands
 * the feature's check its repositories and the store's record index (the embedded store's
 * adapter, `PostgresRecordIndex`, over that connection). The features' checks know only the
 * ports; which adapter answers is decided here, as the root module decides it for the server.
 */

/** `chartwarden ledger verify`: `LedgerVerifier` over every document (or `document`, `Type/id`). */
export async function verifyLedger(databaseUrl: string, options: { document?: string; progress?: Progress } = {}): Promise<LedgerReport> {
  const started = Date.now();
  return withOfflineClient(databaseUrl, 'chartwarden-ledger-verify', async (client) => {
    const [type, id] = options.document ? options.document.split('/') : [];
    const verifier = new LedgerVerifier(LedgerReadsRepository.overClient(client), PostgresRecordIndex.overClient(client));
    return { ...(await verifier.verify(type !== undefined ? { type, id } : undefined, options.progress ?? NO_PROGRESS)), ms: Date.now() - started };
  });
}

/** `chartwarden seal verify <dispute-id>`: `checkSeal` in one read-only snapshot. */
export async function verifySeal(databaseUrl: string, disputeId: string): Promise<SealReport> {
  const started = Date.now();
  return withOfflineClient(databaseUrl, 'chartwarden-seal-verify', async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const report = await checkSeal(new DisputesRepository(queryableOf(client)), PostgresRecordIndex.overClient(client), disputeId);
      return { ...report, ms: Date.now() - started };
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/** `chartwarden retention report`: `retained` on the hospital's calendar (`timeZone`, policy `settings.timeZone`). */
export async function retentionReport(databaseUrl: string, years: { outpatientYears: number; inpatientYears: number }, asOf: Date, timeZone: string): Promise<RetentionReport> {
  const started = Date.now();
  return withOfflineClient(databaseUrl, 'chartwarden-retention-report', async (client) => {
    const report = await retained(PostgresRecordIndex.overClient(client), years, asOf, timeZone);
    return { asOf: asOf.toISOString(), ...years, ...report, ms: Date.now() - started };
  });
}

/** `chartwarden audit checkpoint`: a checkpoint taken over a fresh connection. */
export async function takeCheckpointOf(databaseUrl: string, dataDir: string): Promise<Checkpoint> {
  return withOfflineClient(databaseUrl, 'chartwarden-checkpoint', (client) => takeCheckpoint(checkpointDatabase(client), dataDir, new Date()));
}

/** `chartwarden audit verify --checkpoint <file>`: the database checked against a checkpoint. */
export async function verifyCheckpointOf(databaseUrl: string, file: string, dataDir: string): Promise<CheckpointReport> {
  return withOfflineClient(databaseUrl, 'chartwarden-checkpoint', (client) => verifyCheckpoint(checkpointDatabase(client), file, dataDir));
}

/** A checkpoint's database over one client: each unit a transaction on it, rolled back (checkpoints only read). */
function checkpointDatabase(client: pg.Client): CheckpointDatabase {
  return {
    unit: async (work) => {
      await client.query('BEGIN');
      try {
        return await work(UnitOfWork.over(queryableOf(client)));
      } finally {
        await client.query('ROLLBACK');
      }
    },
    ledger: new LedgerCheckpointHeads(LedgerReadsRepository.overClient(client)),
  };
}

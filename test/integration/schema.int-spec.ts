import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The schema as the migrations build it, on databases created for this file alone (so the
 * migrations really run from nothing): entities and migrations agree, the migration can be
 * undone and redone, the append-only triggers hold, and concurrent start-ups are safe.
 */
describe('Database schema (migrations on a fresh database)', () => {
  const MIGRATIONS = ['InitialSchema1764400000000', 'AccessGrants1764500000000', 'AuditTrail1764600000000', 'EditLedger1764700000000', 'Amendments1764800000000', 'TextFingerprints1764900000000', 'Disputes1765000000000', 'CopyRequests1765100000000', 'AuditDisclosures1765200000000', 'CompartmentFacts1765300000000', 'SearchIndexKinds1765310000000', 'ResourceText1765320000000', 'RecordOwner1765400000000', 'TokenOwner1765410000000', 'DisputeUnsealRecord1765450000000', 'AuditIntegrityRuns1765480000000', 'DisputeSignatures1765500000000', 'RemoteStore1765600000000', 'DisputeCopyRecordPages1765700000000', 'PatientLinks1765800000000'];
  const TABLES = ['access_grant', 'amendment', 'audit_chain', 'audit_entry', 'audit_integrity_run', 'copy_evidence', 'copy_production', 'copy_request', 'dispute', 'dispute_confirmation', 'dispute_copy', 'dispute_item', 'dispute_signature', 'dispute_unseal_record', 'edit_ledger', 'fhir_resource', 'fhir_resource_version', 'fhir_search_composite', 'fhir_search_date', 'fhir_search_number', 'fhir_search_quantity', 'fhir_search_reference', 'fhir_search_string', 'fhir_search_token', 'remote_sync', 'remote_version', 'text_fingerprint'];
  /** The tables before SearchIndexKinds1765310000000 added the number, quantity and composite index. */
  const BEFORE_SEARCH_KINDS = TABLES.filter((t) => !['fhir_search_composite', 'fhir_search_number', 'fhir_search_quantity', 'audit_integrity_run', 'dispute_unseal_record', 'dispute_signature', 'remote_sync', 'remote_version'].includes(t));
  const created: string[] = [];
  const open: ChartWardenDatabase[] = [];

  /** Runs one statement on the test server's maintenance connection (the run's database). */
  const admin = async <T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database?: string): Promise<pg.QueryResult<T>> => {
    const client = new pg.Client({ connectionString: urlOf(database) });
    await client.connect();
    try {
      return await client.query<T>(sql);
    } finally {
      await client.end();
    }
  };
  const urlOf = (database?: string): string => {
    const url = new URL(testDatabaseUrl());
    if (database) url.pathname = `/${database}`;
    return url.toString();
  };
  /** A new, empty database on the test server; dropped in afterAll. */
  const freshDatabase = async (): Promise<string> => {
    const name = `cw_schema_${Date.now()}_${randomBytes(4).toString('hex')}`;
    await admin(`CREATE DATABASE "${name}"`);
    created.push(name);
    return name;
  };
  const connect = async (database: string): Promise<ChartWardenDatabase> => {
    const db = await ChartWardenDatabase.connect(urlOf(database), 2, 0, { as: 'owner' }, CHARTWARDEN_ENTITIES);
    open.push(db);
    return db;
  };
  const tablesIn = async (db: ChartWardenDatabase): Promise<string[]> =>
    (await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND (table_name LIKE 'fhir\\_%' OR table_name LIKE 'access\\_%' OR table_name LIKE 'audit\\_%' OR table_name LIKE 'edit\\_%' OR table_name LIKE 'dispute%' OR table_name LIKE 'copy\\_%' OR table_name LIKE 'remote\\_%' OR table_name IN ('amendment', 'text_fingerprint')) ORDER BY table_name`)).map(
      (r) => r.table_name,
    );
  const pendingSchemaChanges = async (db: ChartWardenDatabase): Promise<string[]> =>
    (await db.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query);
  const appliedMigrations = async (db: ChartWardenDatabase): Promise<string[]> =>
    (await db.query<{ name: string }>('SELECT name FROM chartwarden_migrations ORDER BY id')).map((r) => r.name);

  afterAll(async () => {
    for (const db of open) await db.onApplicationShutdown();
    for (const name of created) await dropThrowawayDatabase(urlOf(), name);
  });

  it('the migrations build exactly the schema the entities describe (generating a migration yields nothing)', async () => {
    const db = await connect(await freshDatabase());
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
    expect(await tablesIn(db)).toEqual(TABLES);
    expect(await pendingSchemaChanges(db)).toEqual([]);
  });

  it('undoing every migration (newest first) removes their tables and function; migrating again restores them', async () => {
    const name = await freshDatabase();
    const db = await connect(name);
    expect(await tablesIn(db)).toEqual(TABLES);

    // PatientLinks (the newest): the resources' links to patients go (issue #13, decision 0018).
    const patientLinks = `SELECT 1 FROM information_schema.columns WHERE table_name = 'fhir_resource' AND column_name = 'patient_links'`;
    expect(await db.query(patientLinks)).toHaveLength(1);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(patientLinks)).toHaveLength(0);
    expect(await tablesIn(db)).toEqual(TABLES);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, -1));

    // DisputeCopyRecordPages: the sealed copies' page map goes, the copies stay (issue #18, R-40 页数).
    const recordPages = `SELECT 1 FROM information_schema.columns WHERE table_name = 'dispute_copy' AND column_name = 'record_pages'`;
    expect(await db.query(recordPages)).toHaveLength(1);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(recordPages)).toHaveLength(0);
    expect(await tablesIn(db)).toEqual(TABLES);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, -2));

    // RemoteStore: the remote store's version map and sync state go (issue #17).
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    const withoutRemote = TABLES.filter((t) => !t.startsWith('remote_'));
    expect(await tablesIn(db)).toEqual(withoutRemote);
    expect(await db.query(`SELECT 1 FROM pg_trigger WHERE tgname LIKE 'remote_version%'`)).toHaveLength(0);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, -3));

    // DisputeSignatures: the patient side's drawn signatures' table and its triggers go (issue #18, R-40).
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(withoutRemote.filter((t) => t !== 'dispute_signature'));
    expect(await db.query(`SELECT 1 FROM pg_trigger WHERE tgname LIKE 'dispute_signature%'`)).toHaveLength(0);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, -4));

    // AuditIntegrityRuns: the runs' table and its trigger function go (issue #18).
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(withoutRemote.filter((t) => t !== 'audit_integrity_run' && t !== 'dispute_signature'));
    expect(await db.query(`SELECT 1 FROM pg_proc WHERE proname = 'chartwarden_integrity_run_once'`)).toHaveLength(0);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, -5));

    // DisputeUnsealRecord: the unseal records' table goes (issue #18, R-43).
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(withoutRemote.filter((t) => t !== 'audit_integrity_run' && t !== 'dispute_unseal_record' && t !== 'dispute_signature'));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, -6));

    // TokenOwner, then RecordOwner: the owner columns go (decision 0018).
    const ownerColumns = `SELECT table_name FROM information_schema.columns WHERE column_name = 'owner' AND table_name LIKE 'fhir_%' ORDER BY 1`;
    expect(await db.query(ownerColumns)).toEqual([{ table_name: 'fhir_resource' }, { table_name: 'fhir_search_date' }, { table_name: 'fhir_search_token' }]);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(ownerColumns)).toEqual([{ table_name: 'fhir_resource' }, { table_name: 'fhir_search_date' }]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 13));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(ownerColumns)).toEqual([]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 12));
    // ResourceText: the stored text's columns go.
    const textColumns = `SELECT 1 FROM information_schema.columns WHERE column_name = 'content_text' AND table_name IN ('fhir_resource', 'fhir_resource_version')`;
    expect(await db.query(textColumns)).toHaveLength(2);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(textColumns)).toHaveLength(0);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 11));
    // SearchIndexKinds: the number, quantity and composite index tables go.
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 10));

    // CompartmentFacts: the owner rows go and the old hold function returns, so the migrations before it undo as they did.
    const holdsFunction = `SELECT 1 FROM pg_proc WHERE proname = 'chartwarden_holds'`;
    expect(await db.query(holdsFunction)).toHaveLength(0);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(holdsFunction)).toHaveLength(1);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 9));

    const disclosedIndex = `SELECT 1 FROM pg_indexes WHERE indexname = 'ix_audit_entry_disclosed'`;
    expect(await db.query(disclosedIndex)).toHaveLength(1);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await db.query(disclosedIndex)).toHaveLength(0);
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 8));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 7));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => !t.startsWith('dispute') && !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 6));
    expect(await db.query(`SELECT 1 FROM pg_proc WHERE proname IN ('chartwarden_dispute_item_sealed_once', 'chartwarden_holds', 'chartwarden_dispute_forward')`)).toHaveLength(0);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => t !== 'text_fingerprint' && !t.startsWith('dispute') && !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 5));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => t !== 'amendment' && t !== 'text_fingerprint' && !t.startsWith('dispute') && !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 4));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => t !== 'edit_ledger' && t !== 'amendment' && t !== 'text_fingerprint' && !t.startsWith('dispute') && !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 3));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => !t.startsWith('audit_') && t !== 'edit_ledger' && t !== 'amendment' && t !== 'text_fingerprint' && !t.startsWith('dispute') && !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 2));
    expect(await db.query(`SELECT 1 FROM pg_proc WHERE proname IN ('chartwarden_refuse_audit_change', 'chartwarden_audit_head_forward')`)).toHaveLength(0);
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual(BEFORE_SEARCH_KINDS.filter((t) => t !== 'access_grant' && !t.startsWith('audit_') && t !== 'edit_ledger' && t !== 'amendment' && t !== 'text_fingerprint' && !t.startsWith('dispute') && !t.startsWith('copy_')));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 1));
    await db.dataSource.undoLastMigration({ transaction: 'all' });
    expect(await tablesIn(db)).toEqual([]);
    expect(await appliedMigrations(db)).toEqual([]);
    expect(await db.query(`SELECT 1 FROM pg_proc WHERE proname = 'chartwarden_refuse_change'`)).toHaveLength(0);

    const again = await connect(name);
    expect(await appliedMigrations(again)).toEqual(MIGRATIONS);
    expect(await tablesIn(again)).toEqual(TABLES);
    expect(await pendingSchemaChanges(again)).toEqual([]);
    const triggers = await again.query<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname`);
    expect(triggers.map((t) => t.tgname)).toEqual(['amendment_no_delete', 'amendment_no_truncate', 'audit_chain_forward', 'audit_chain_no_delete', 'audit_chain_no_truncate', 'audit_entry_append_only', 'audit_entry_no_truncate', 'audit_integrity_run_no_truncate', 'audit_integrity_run_once', 'copy_evidence_append_only', 'copy_evidence_no_truncate', 'copy_production_append_only', 'copy_production_no_truncate', 'copy_request_no_delete', 'copy_request_no_truncate', 'dispute_confirmation_append_only', 'dispute_confirmation_no_truncate', 'dispute_copy_append_only', 'dispute_copy_no_truncate', 'dispute_forward', 'dispute_item_no_truncate', 'dispute_item_sealed_once', 'dispute_no_delete', 'dispute_no_truncate', 'dispute_signature_append_only', 'dispute_signature_no_truncate', 'dispute_unseal_record_append_only', 'dispute_unseal_record_no_truncate', 'edit_ledger_append_only', 'edit_ledger_no_truncate', 'fhir_resource_no_delete', 'fhir_resource_no_truncate', 'fhir_resource_version_append_only', 'fhir_resource_version_no_truncate', 'fhir_resource_versioned_update', 'remote_version_append_only', 'remote_version_no_truncate']);
  });

  describe('R-17: stored versions cannot be altered or destroyed, even by a superuser', () => {
    let db: ChartWardenDatabase;
    const content = { resourceType: 'Patient', id: 'p-r17', meta: { versionId: '1' }, gender: 'female' };

    beforeAll(async () => {
      db = await connect(await freshDatabase());
      await db.query(`INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, content) VALUES ('Patient', 'p-r17', 1, now(), $1)`, [content]);
      await db.query(
        `INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content) VALUES ('Patient', 'p-r17', 1, now(), 'create', $1)`,
        [content],
      );
    });

    const version = () => db.query<{ content: unknown; method: string }>(`SELECT content, method FROM fhir_resource_version WHERE resource_type = 'Patient' AND id = 'p-r17'`);
    const current = () => db.query<{ content: unknown }>(`SELECT content FROM fhir_resource WHERE resource_type = 'Patient' AND id = 'p-r17'`);
    const refusal = (operation: string, table: string) => ({
      code: '42501', // insufficient_privilege, raised by chartwarden_refuse_change()
      message: expect.stringContaining(`${operation} on ${table} is refused`) as unknown,
    });

    it('the connection used here is a superuser (so the refusal is not a missing privilege)', async () => {
      const [me] = await db.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
      expect(me.rolsuper).toBe(true);
    });

    it('R-17: UPDATE of a stored version is refused and the version is unchanged', async () => {
      await expect(db.query(`UPDATE fhir_resource_version SET content = '{"forged":true}'::jsonb, method = 'update' WHERE id = 'p-r17'`)).rejects.toMatchObject(
        refusal('UPDATE', 'fhir_resource_version'),
      );
      expect(await version()).toEqual([{ content, method: 'create' }]);
    });

    it('R-17: DELETE of a stored version is refused and the version is still there', async () => {
      await expect(db.query(`DELETE FROM fhir_resource_version WHERE id = 'p-r17'`)).rejects.toMatchObject(refusal('DELETE', 'fhir_resource_version'));
      expect(await version()).toEqual([{ content, method: 'create' }]);
    });

    it('R-17: DELETE of a current resource is refused and the resource is still there', async () => {
      await expect(db.query(`DELETE FROM fhir_resource WHERE id = 'p-r17'`)).rejects.toMatchObject(refusal('DELETE', 'fhir_resource'));
      expect(await current()).toEqual([{ content }]);
    });

    it.each(['fhir_resource_version', 'fhir_resource'])('R-17: TRUNCATE of %s is refused and the rows are still there', async (table) => {
      await expect(db.query(`TRUNCATE ${table}`)).rejects.toMatchObject(refusal('TRUNCATE', table));
      expect(await version()).toEqual([{ content, method: 'create' }]);
      expect(await current()).toEqual([{ content }]);
    });
  });

  it('two instances connecting at the same time to a fresh database both succeed; the migration runs once', async () => {
    const name = await freshDatabase();
    const [a, b] = await Promise.all([connect(name), connect(name)]);
    expect(await appliedMigrations(a)).toEqual(MIGRATIONS);
    expect(await tablesIn(b)).toEqual(TABLES);
    expect(await pendingSchemaChanges(b)).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { testDatabaseUrl } from '../support/test-app.js';

/**
 * R-51, issue #13: a transaction's BEGIN goes out with its first statement, and the statements
 * given to `commitWith` go out with its COMMIT, without waiting for the answers before them
 * (pg's pipeline mode). What that must not change: the first statement runs inside the
 * transaction; the final statements run after every `beforeCommit` step and commit with the
 * work or not at all; a final statement that fails rolls everything back and is the error the
 * transaction throws, as its `failed` maps it; the connection is usable afterwards. One
 * connection in the pool, so "usable afterwards" is the only way the next transaction runs.
 */
describe('a transaction sends BEGIN with its first statement and its last statements with COMMIT (R-51, issue #13)', () => {
  let db: ChartWardenDatabase;
  const table = `pipeline_probe_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 1);
    await db.query(`CREATE TABLE ${table} (n int PRIMARY KEY, at bigserial)`);
  }, 60_000);
  afterAll(async () => {
    await db?.query(`DROP TABLE IF EXISTS ${table}`);
    await db?.onApplicationShutdown();
  });

  const insert = (n: number) => ({ sql: `INSERT INTO ${table} (n) VALUES ($1)`, parameters: [n] });
  /** The rows of `ns` that exist, in the order they were written. */
  const written = async (...ns: number[]) =>
    (await db.query<{ n: number }>(`SELECT n FROM ${table} WHERE n = ANY($1::int[]) ORDER BY at`, [ns])).map((r) => r.n);

  it('R-51: the work, then the beforeCommit steps, then the final statements, in the order given, all committed together', async () => {
    const seen: number[] = [];
    await db.transaction(async (tx) => {
      tx.commitWith?.(() => insert(13));
      tx.commitWith?.(() => undefined);
      tx.beforeCommit?.(async () => {
        await tx.query(insert(12).sql, insert(12).parameters);
        seen.push(...(await tx.query<{ n: number }>(`SELECT n FROM ${table} WHERE n IN (11, 12, 13) ORDER BY n`)).map((r) => r.n));
      });
      tx.commitWith?.(() => insert(14));
      await tx.query(insert(11).sql, insert(11).parameters);
    });
    expect(seen).toEqual([11, 12]);
    expect(await written(11, 12, 13, 14)).toEqual([11, 12, 13, 14]);
  });

  it('R-51: the first statement, sent with BEGIN, is inside the transaction: work that throws leaves nothing of it', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert(21).sql, insert(21).parameters);
        throw new Error('refused after its first statement');
      }),
    ).rejects.toThrow('refused after its first statement');
    expect(await written(21)).toEqual([]);
  });

  it('R-51: a final statement that fails rolls back the work and the statements sent with it; its error is thrown as failed maps it', async () => {
    await db.query(insert(30).sql, insert(30).parameters);
    const mapped = new Error('mapped: the key is taken');
    let cause: unknown;
    const failing = db.transaction(async (tx) => {
      await tx.query(insert(31).sql, insert(31).parameters);
      tx.commitWith?.(() => insert(32));
      tx.commitWith?.(() => ({
        ...insert(30),
        failed: (e) => {
          cause = e;
          return mapped;
        },
      }));
      tx.commitWith?.(() => insert(33));
    });
    await expect(failing).rejects.toBe(mapped);
    expect((cause as { code?: string }).code).toBe('23505');
    expect(await written(30, 31, 32, 33)).toEqual([30]);
  });

  it('R-51: a failure without a mapping is PostgreSQL\'s own; the one connection is usable, outside any transaction, afterwards', async () => {
    const failing = db.transaction(async (tx) => {
      tx.commitWith?.(() => ({ sql: `INSERT INTO ${table} (n) VALUES (1 / $1::int)`, parameters: [0] }));
    });
    await expect(failing).rejects.toMatchObject({ code: '22012' });
    await db.transaction(async (tx) => {
      tx.commitWith?.(() => insert(41));
    });
    expect(await written(41)).toEqual([41]);
    // Left inside the failed transaction, this would fail (25P02) or see its transaction id.
    expect(await db.query<{ open: boolean }>('SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS open')).toEqual([{ open: false }]);
  });
});

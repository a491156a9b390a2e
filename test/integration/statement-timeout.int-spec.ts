import { ERROR_CODE_SYSTEM, toErrorResponse } from '../../src/fhir/operation-outcome.mapper.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { testDatabaseUrl } from '../support/test-app.js';

/**
 * the statement timeout as a mechanism, below HTTP (issue #12, item 6). One connection in
 * the pool, so "the connection is released and usable" is the only way the next statement runs.
 * The end-to-end behaviour (a slow FHIR search, the audit entry, a flood) is in
 * test/e2e/hardening-cost.e2e-spec.ts.
 */
describe('R-51 statement timeout on the request pool (integration, real PostgreSQL)', () => {
  let limited: ChartWardenDatabase;
  let unlimited: ChartWardenDatabase;

  beforeAll(async () => {
    limited = await ChartWardenDatabase.connect(testDatabaseUrl(), 1, 200);
    unlimited = await ChartWardenDatabase.connect(testDatabaseUrl(), 1, 0);
  }, 60_000);

  afterAll(async () => {
    await limited?.onApplicationShutdown();
    await unlimited?.onApplicationShutdown();
  });

  /** The rejection of `work`, which must fail. */
  async function failure(work: Promise<unknown>): Promise<Error & { code?: string }> {
    try {
      await work;
    } catch (e) {
      return e as Error & { code?: string };
    }
    throw new Error('expected the statement to be cancelled');
  }

  it('R-51: every connection of the pool carries the timeout; 0 means none', async () => {
    expect(await limited.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '200ms' }]);
    expect(await unlimited.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '0' }]);
  });

  it('R-51: a statement past the timeout is cancelled by PostgreSQL (57014) long before it ends; 400 too-costly fhir.query-timeout', async () => {
    const started = performance.now();
    const error = await failure(limited.query('SELECT pg_sleep(5)'));
    expect(performance.now() - started).toBeLessThan(2500);
    expect(error.code).toBe('57014');
    const response = toErrorResponse(error);
    expect(response.status).toBe(400);
    expect(response.outcome.issue?.[0]).toMatchObject({ severity: 'error', code: 'too-costly' });
    expect(response.outcome.issue?.[0].details?.coding).toContainEqual({ system: ERROR_CODE_SYSTEM, code: 'fhir.query-timeout' });
  });

  it('R-51: the one connection is released and usable after a cancelled statement, and after a cancelled transaction (rolled back, nothing kept)', async () => {
    for (let i = 0; i < 3; i++) expect((await failure(limited.query('SELECT pg_sleep(1)'))).code).toBe('57014');
    expect(await limited.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);

    await limited.query('CREATE TEMP TABLE IF NOT EXISTS cost_probe (n int)');
    const error = await failure(
      limited.transaction(async (tx) => {
        await tx.query('INSERT INTO cost_probe VALUES (1)');
        await tx.query('SELECT pg_sleep(1)');
      }),
    );
    expect(error.code).toBe('57014');
    // A temp table lives on its connection: seeing it again proves the same connection came back, clean.
    expect(await limited.query('SELECT count(*)::int AS n FROM cost_probe')).toEqual([{ n: 0 }]);
    expect(await limited.transaction((tx) => tx.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
  });

  it('R-51: statements within the timeout are untouched, and without a timeout a longer one completes', async () => {
    expect(await limited.query('SELECT pg_sleep(0.05)::text AS slept')).toEqual([{ slept: '' }]);
    expect(await unlimited.query('SELECT pg_sleep(0.3)::text AS slept')).toEqual([{ slept: '' }]);
  });
});

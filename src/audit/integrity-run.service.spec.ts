import type { FhirContext } from '../fhir/fhir-request.js';
import type { IntegrityRun } from './domain/integrity-run.js';
import { IntegrityRunService } from './integrity-run.service.js';

/**
 * a run's status as an auditor sees it. A run writes its result and then lets go of its
 * kind's lock; the service reads the run's row and then the lock. A run that finishes between
 * those two reads must show its outcome, never "abandoned" (seen in the console's integrity
 * screen on a slow machine).
 */
describe('IntegrityRunService: a run finishing while it is looked at (R-21)', () => {
  const started: IntegrityRun = { id: '3f1c2b1e-5a6b-4c7d-8e9f-0a1b2c3d4e5f', kind: 'audit', startedBy: { via: 'api', id: 'auditor-zheng' }, startedAt: new Date('2026-12-07T06:00:00Z') };
  const finished: IntegrityRun = { ...started, finishedAt: new Date('2026-12-07T06:00:01Z'), durationMs: 1000, result: { outcome: 'intact', units: 16, entries: 4000 } };
  const auditor = { actor: { id: 'auditor-zheng', roles: ['auditor'], scopes: [] } } as unknown as FhirContext;
  const access = { scopeOf: () => ({ reads: 'all', wholeTrail: { policyVersion: 'test' } }) };

  /** The repository as the run moves on: each read of its row returns the next state; the lock is free (the run let go of it). */
  const service = (rows: IntegrityRun[], held: boolean[]) => {
    const runs = {
      byId: () => Promise.resolve(rows.length > 1 ? rows.shift() : rows[0]),
      lockHeld: () => Promise.resolve(held.length > 1 ? held.shift() : held[0]),
      // Only audit runs exist here: the ledger has none.
      latest: (kind: string) => Promise.resolve(kind === 'audit' ? { run: rows.length > 1 ? rows.shift() : rows[0], lockHeld: held.length > 1 ? held.shift() : held[0] } : undefined),
      lastFinished: (kind: string) => Promise.resolve(kind === 'audit' && rows[rows.length - 1].finishedAt ? rows[rows.length - 1] : undefined),
      lastIntact: () => Promise.resolve(undefined),
    };
    return new IntegrityRunService({} as never, runs as never, {} as never, access as never, {} as never, {} as never);
  };

  it('one run: read unfinished, then its lock free because it finished in between: its outcome, not abandoned', async () => {
    await expect(service([started, finished], [false]).one(auditor, started.id)).resolves.toMatchObject({ id: started.id, status: 'intact' });
  });

  it('one run: unfinished and its lock free on a second look too: abandoned (its process is gone)', async () => {
    await expect(service([started, started], [false]).one(auditor, started.id)).resolves.toMatchObject({ status: 'abandoned' });
  });

  it('one run: unfinished and its lock held: running', async () => {
    await expect(service([started], [true]).one(auditor, started.id)).resolves.toMatchObject({ status: 'running' });
  });

  it('the state of the kinds: the newest run read unfinished with its lock free, finished on a second look: the last run intact, none in progress', async () => {
    const state = await service([started, finished], [false, false]).state(auditor);
    expect(state.audit).toMatchObject({ inProgress: false, running: null, lastRun: { id: started.id, status: 'intact' } });
  });
});

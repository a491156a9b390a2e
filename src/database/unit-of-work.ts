import type { ChartWardenDatabase, Queryable } from './chartwarden-database.js';

/** The connection behind each unit: reachable only through `sqlOf`, which only repositories and store adapters call. */
const connections = new WeakMap<UnitOfWork, Queryable>();

/**
 * One transaction in ChartWarden's database that several owners write in, committing together
 * or not at all: a version with its ledger entry and audit entry, a seal with its
 * inventory and the record locks it took. Opaque on purpose: a feature hands it to its own
 * repository or to the store (`FhirStore.within(unit)`), never runs SQL on it itself, so no
 * feature reaches another's tables through it (docs/decisions/0013).
 */
export class UnitOfWork {
  /** Nominal: only `over` and `run` make one. */
  private readonly opaque = true;

  private constructor() {}

  /** Wraps a transaction an adapter or `ChartWardenDatabase.transaction` opened. */
  static over(tx: Queryable): UnitOfWork {
    const unit = new UnitOfWork();
    connections.set(unit, tx);
    return unit;
  }

  /** Runs `work` in a new unit of work on `db`: commits when it resolves, rolls back when it throws. */
  static run<T>(db: ChartWardenDatabase, work: (unit: UnitOfWork) => Promise<T>): Promise<T> {
    return db.transaction((tx) => work(UnitOfWork.over(tx)));
  }

  /** A step run after the work, just before COMMIT (audit chain heads take their locks last). */
  beforeCommit(step: () => Promise<unknown>): void {
    const tx = sqlOf(this);
    if (!tx.beforeCommit) throw new Error('this unit of work cannot defer steps to its commit');
    tx.beforeCommit(step);
  }
}

/**
 * The unit's connection (or `fallback`, the pool, outside a unit). For a feature's repository
 * and a store adapter only: services hand units around and never call this
 * (test/architecture checks who does).
 */
export function sqlOf(unit: UnitOfWork): Queryable;
export function sqlOf(unit: UnitOfWork | undefined, fallback: Queryable): Queryable;
export function sqlOf(unit: UnitOfWork | undefined, fallback?: Queryable): Queryable {
  const q = unit ? connections.get(unit) : fallback;
  if (!q) throw new Error('not a unit of work');
  return q;
}

/**
 * Stands, among bound values, for the instant a statement is evaluated at, until it runs
 * (`atInstant`): an injectable `Clock`, never SQL `now()`, so tests can move time (the care
 * window, R-03). Built statements are cached with their values; the instant is not.
 */
export const NOW = Symbol('now');

/**
 * Collects bind parameters while a statement's fragments are built, so placeholders never
 * collide: the one way to build a parameterized statement from parts (the store's searches,
 * the audit trail's). Generic: it knows no table.
 */
export class SqlParams {
  readonly values: unknown[] = [];
  private nowPlaceholder?: string;

  /** Binds `value` and returns its placeholder (`$n`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /**
   * `LIMIT $n`, and `OFFSET $m` only past the first page. A prepared statement with `OFFSET $m`
   * is never kept by PostgreSQL for reuse (a kept plan must assume it skips rows, a plan made for
   * `0` does not, so the kept one always costs more): the first page, most pages asked for, was
   * planned again on every execution, often longer than it ran (issue #13).
   */
  page(limit: number, offset: number): string {
    return `LIMIT ${this.add(limit)}${offset > 0 ? ` OFFSET ${this.add(offset)}` : ''}`;
  }

  /**
   * `LIMIT (SELECT $n::int)`: a count's cap, which PostgreSQL cannot see when it plans. A plan
   * made for the values (a connection's first five executions of a prepared statement) then costs
   * the cap as the plan it keeps afterwards does: a small part of the rows it expects. Seen as a
   * constant, a cap of 501 among the few thousand rows stale statistics promised a patient had
   * looked like most of them, and PostgreSQL counted through a bitmap of all the patient's
   * index entries, which cannot stop at the cap: 22–33 ms at 100,000 Observations, against
   * 0.75 ms for the index walk that stops there (issue #13, decision 0018). Only a count's cap:
   * a page's `LIMIT` is the page's size, which the plan for a page should know.
   */
  countCap(limit: number): string {
    return `LIMIT (SELECT ${this.add(limit)}::int)`;
  }

  /** The placeholder of "now" (one per statement, `timestamptz`); bind it with `atInstant`. */
  now(): string {
    this.nowPlaceholder ??= `${this.add(NOW)}::timestamptz`;
    return this.nowPlaceholder;
  }
}

/** `values` ready to bind: `now` in place of `NOW`. */
export function atInstant(values: readonly unknown[], now: Date): unknown[] {
  return values.map((v) => (v === NOW ? now : v));
}

/**
 * What a statement over one patient's rows asks of that patient alone (issue #13, decision
 * 0018): each distinct patient-level condition of the policy (care team, departments, grants and
 * break-the-glass as lists of patients), computed once per statement in a materialized CTE,
 * `patient_level`, and read wherever the statement needs it: by the gate that spares a caller
 * with no way to the patient from reading any of its rows (`patientGateSql`), and by each row's
 * full condition. Written out twice as subqueries, each would be evaluated twice: PostgreSQL
 * shares no subexpression between two places of a statement.
 *
 * Across patients, the same once-per-statement rule for the sets of patients those conditions
 * hold for (`patients`, one CTE each).
 *
 * Why the plan stays the same whatever the statistics: a MATERIALIZED CTE is never inlined and
 * is evaluated at most once, and only when first read; each read of `patient_level` is an
 * uncorrelated scalar subquery, which PostgreSQL runs once per statement (an InitPlan) and never
 * turns into a join; each read of a set is `owner IN (SELECT … FROM patient_set_n)` inside a
 * `COALESCE`, which stays a hashed subplan and is never pulled up into a join. There is no join
 * order or method for the planner to choose, on a fresh database or an analysed one.
 */
export class PatientLevelFacts {
  private readonly columns: { key: string; sql: string }[] = [];
  private readonly sets: { key: string; sql: string }[] = [];

  /** The value of the condition `key` (its SQL built by `build` the first time it is asked for), read from the CTE. */
  of(key: string, build: () => string): string {
    let n = this.columns.findIndex((c) => c.key === key);
    if (n < 0) n = this.columns.push({ key, sql: build() }) - 1;
    return `(SELECT patient_level.c${n} FROM patient_level)`;
  }

  /**
   * Across patients (a search of many patients' rows): the name of a materialized CTE of one
   * column, `patient`, listing the patients the set `key` holds for (its query built by `build`
   * the first time it is asked for). Every condition of the statement that asks for the set
   * reads it there: the policy's judgement of each row, the owner filter of each criterion, the
   * patients a search across patients visits (`visiblePatientsSql`). Before, each was a subquery
   * of its own, and a department's patients were listed two or three times per statement.
   */
  patients(key: string, build: () => string): string {
    let n = this.sets.findIndex((s) => s.key === key);
    if (n < 0) n = this.sets.push({ key, sql: build() }) - 1;
    return `patient_set_${n}`;
  }

  /** The CTEs asked for, each followed by `, `: for a statement that begins with a `WITH` of its own. */
  definitions(): string {
    const defs = this.columns.length ? [`patient_level AS MATERIALIZED (SELECT ${this.columns.map((c, n) => `${c.sql} AS c${n}`).join(', ')})`] : [];
    this.sets.forEach((s, n) => defs.push(`patient_set_${n}(patient) AS MATERIALIZED (${s.sql})`));
    return defs.map((d) => `${d}, `).join('');
  }

  /** `WITH patient_level AS MATERIALIZED (…), patient_set_0 … `, to put before the statement; empty when nothing was asked for. */
  withClause(): string {
    const defs = this.definitions();
    return defs ? `WITH ${defs.slice(0, -2)} ` : '';
  }
}

/**
 * What a statement over one patient's rows asks of that patient alone (issue #13, decision
 * 0018): each distinct patient-level condition of the policy (care team, departments, grants and
 * break-the-glass as lists of patients), computed once per statement in a materialized CTE,
 * `patient_level`, and read wherever the statement needs it: by the gate that spares a caller
 * with no way to the patient from reading any of its rows (`patientGateSql`), and by each row's
 * full condition. Written out twice as subqueries, each would be evaluated twice: PostgreSQL
 * shares no subexpression between two places of a statement.
 *
 * Why the plan stays the same whatever the statistics: a MATERIALIZED CTE is never inlined and
 * is evaluated at most once; each read of it is an uncorrelated scalar subquery, which
 * PostgreSQL runs once per statement (an InitPlan) and never turns into a join. There is no join
 * order or method for the planner to choose, on a fresh database or an analysed one.
 */
export class PatientLevelFacts {
  private readonly columns: { key: string; sql: string }[] = [];

  /** The value of the condition `key` (its SQL built by `build` the first time it is asked for), read from the CTE. */
  of(key: string, build: () => string): string {
    let n = this.columns.findIndex((c) => c.key === key);
    if (n < 0) n = this.columns.push({ key, sql: build() }) - 1;
    return `(SELECT patient_level.c${n} FROM patient_level)`;
  }

  /** `WITH patient_level AS MATERIALIZED (…) `, to put before the statement; empty when no condition was asked for. */
  withClause(): string {
    if (this.columns.length === 0) return '';
    return `WITH patient_level AS MATERIALIZED (SELECT ${this.columns.map((c, n) => `${c.sql} AS c${n}`).join(', ')}) `;
  }
}

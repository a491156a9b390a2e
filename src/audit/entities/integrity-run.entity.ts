import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One verification of the audit trail's chains or of the edit ledger (issue #18, R-21, R-12):
 * inserted unfinished when it starts, finished once with its outcome, then never changed or
 * deleted (trigger `chartwarden_integrity_run_once`, migration 1765480000000). Reached only
 * through `IntegrityRunRepository`.
 */
@Entity({ name: 'audit_integrity_run' })
@Index('ix_audit_integrity_run_kind', ['kind', 'startedAt'])
// At most one unfinished run of a kind: a partial unique index, migration 1765480000000.
@Index('ux_audit_integrity_run_unfinished', { synchronize: false })
export class IntegrityRunEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  /** `audit` or `ledger`. */
  @Column({ name: 'kind', type: 'varchar', length: 8 })
  kind!: string;

  /** `cli` or `api`. */
  @Column({ name: 'started_via', type: 'varchar', length: 8 })
  startedVia!: string;

  /** The CLI's `user@host`, or the token's subject. */
  @Column({ name: 'started_by', type: 'varchar', length: 128 })
  startedBy!: string;

  @Column({ name: 'practitioner', type: 'varchar', length: 128, nullable: true })
  practitioner!: string | null;

  /** The request that started it (its audit entry's `X-Request-Id`). */
  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  /** What was verified when not everything (`since …`, `Composition/123`). */
  @Column({ name: 'scope', type: 'varchar', length: 200, nullable: true })
  scope!: string | null;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  /** `intact`, `broken` or `failed`; null while running. */
  @Column({ name: 'outcome', type: 'varchar', length: 8, nullable: true })
  outcome!: string | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs!: number | null;

  /** Chains (audit) or documents (ledger) checked. */
  @Column({ name: 'units_checked', type: 'integer', nullable: true })
  unitsChecked!: number | null;

  /** Entries (audit) or versions (ledger) checked. */
  @Column({ name: 'entries_checked', type: 'bigint', nullable: true })
  entriesChecked!: string | null;

  /** Broken chains or documents. */
  @Column({ name: 'breaks', type: 'integer', nullable: true })
  breaks!: number | null;

  /** The first break as the verifier reported it (problem, detail, where). */
  @Column({ name: 'first_break', type: 'jsonb', nullable: true })
  firstBreak!: unknown;

  /** Why a failed run could not complete. */
  @Column({ name: 'failure', type: 'text', nullable: true })
  failure!: string | null;
}

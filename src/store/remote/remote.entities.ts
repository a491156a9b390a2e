import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The remote store's map from ChartWarden's versions to the upstream server's (decision 0017):
 * one row per upstream version ChartWarden confirmed or adopted. ChartWarden's version numbers are what
 * clients, the ledger and the papers see; the upstream's id is what an `If-Match` sent upstream
 * names. Rows are only ever inserted.
 */
@Entity({ name: 'remote_version' })
@Index('ix_remote_version_latest', ['resourceType', 'id', 'versionId'])
export class RemoteVersionEntity {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @PrimaryColumn({ name: 'id', type: 'varchar', length: 64 })
  id!: string;

  /** The upstream's version id (opaque: Medplum's are UUIDs). */
  @PrimaryColumn({ name: 'upstream_version', type: 'varchar', length: 128 })
  upstreamVersion!: string;

  /** ChartWarden's version it holds the content of (an upstream re-save that changed nothing maps to the same one). */
  @Column({ name: 'version_id', type: 'integer' })
  versionId!: number;

  @Column({ name: 'upstream_last_updated', type: 'timestamptz', nullable: true })
  upstreamLastUpdated!: Date | null;

  /** `chartwarden`: written through ChartWarden (its ledger has it); `upstream`: adopted from a write that bypassed ChartWarden. */
  @Column({ name: 'origin', type: 'varchar', length: 16 })
  origin!: string;

  @Column({ name: 'recorded_at', type: 'timestamptz' })
  recordedAt!: Date;
}

/** Where the sync from the upstream's history stands (one row, `upstream`). */
@Entity({ name: 'remote_sync' })
export class RemoteSyncEntity {
  @PrimaryColumn({ name: 'name', type: 'varchar', length: 32 })
  name!: string;

  /** The upstream `lastUpdated` the next run reads from (inclusive). */
  @Column({ name: 'cursor', type: 'timestamptz', nullable: true })
  cursor!: Date | null;

  @Column({ name: 'last_run_at', type: 'timestamptz', nullable: true })
  lastRunAt!: Date | null;

  /** `ok`, or `failed: <reason>`. */
  @Column({ name: 'last_outcome', type: 'text', nullable: true })
  lastOutcome!: string | null;

  @Column({ name: 'versions_seen', type: 'bigint', default: 0 })
  versionsSeen!: string;

  @Column({ name: 'versions_adopted', type: 'bigint', default: 0 })
  versionsAdopted!: string;
}

export const REMOTE_STORE_ENTITIES = [RemoteVersionEntity, RemoteSyncEntity];

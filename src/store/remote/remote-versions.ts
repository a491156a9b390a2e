import type { Queryable } from '../../database/chartwarden-database.js';
import type { RecordRef } from '../patient-record-index.port.js';

/** Where a version ChartWarden holds came from. */
export type VersionOrigin = 'chartwarden' | 'upstream';

/** ChartWarden's latest version of a record and the upstream version it was confirmed as. */
export interface MappedVersion {
  version: number;
  upstream: string;
}

/** One row of the map: an upstream version and ChartWarden's version holding its content. */
export interface VersionMapping extends RecordRef {
  version: number;
  upstream: string;
  upstreamLastUpdated?: string;
  origin: VersionOrigin;
}

/** Where the sync from the upstream's history stands. */
export interface SyncState {
  cursor?: Date;
  lastRunAt?: Date;
  lastOutcome?: string;
  versionsSeen: number;
  versionsAdopted: number;
}

const SYNC_ROW = 'upstream';

/**
 * The remote store's own tables (decision 0017): `remote_version`, ChartWarden's versions
 * mapped to the upstream's, and `remote_sync`. Only `src/store/remote/` reads or writes them.
 */
export class RemoteVersions {
  constructor(private readonly q: Queryable) {}

  /** Per record (`Type/id`), ChartWarden's latest version that has an upstream version, and that upstream version. */
  async latest(refs: readonly RecordRef[]): Promise<Map<string, MappedVersion>> {
    const found = new Map<string, MappedVersion>();
    if (refs.length === 0) return found;
    const rows = await this.q.query<{ resource_type: string; id: string; version_id: number; upstream_version: string }>(
      `SELECT DISTINCT ON (m.resource_type, m.id) m.resource_type, m.id, m.version_id, m.upstream_version
         FROM remote_version m JOIN unnest($1::text[], $2::text[]) AS r(t, i) ON m.resource_type = r.t AND m.id = r.i
        ORDER BY m.resource_type, m.id, m.version_id DESC, m.recorded_at DESC`,
      [refs.map((r) => r.type), refs.map((r) => r.id)],
      { prepare: true },
    );
    for (const r of rows) found.set(`${r.resource_type}/${r.id}`, { version: r.version_id, upstream: r.upstream_version });
    return found;
  }

  /** Whether the upstream's version is one ChartWarden already holds. */
  async knows(ref: RecordRef, upstream: string): Promise<boolean> {
    const rows = await this.q.query(`SELECT 1 FROM remote_version WHERE resource_type = $1 AND id = $2 AND upstream_version = $3`, [ref.type, ref.id, upstream], {
      prepare: true,
    });
    return rows.length > 0;
  }

  /**
   * Serialises, until the transaction ends, everyone who maps a new upstream version of these
   * records: a write sending them upstream, and a read or sync adopting what the upstream holds.
   * Without it, a reader could see a write's upstream version before the write's mapping
   * committed, and store it a second time as a version written past ChartWarden. Taken in a
   * stable order; a transaction may take one again (advisory locks nest).
   */
  async lockRecords(refs: readonly RecordRef[]): Promise<void> {
    for (const key of [...new Set(refs.map((r) => `${r.type}/${r.id}`))].sort()) {
      await this.q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`chartwarden:remote-record:${key}`], { prepare: true });
    }
  }

  /** Records the mappings (an upstream version seen twice keeps its first row). */
  async record(mappings: readonly VersionMapping[], at: Date): Promise<void> {
    if (mappings.length === 0) return;
    await this.q.query(
      `INSERT INTO remote_version (resource_type, id, upstream_version, version_id, upstream_last_updated, origin, recorded_at)
       SELECT t, i, u, v, l, o, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[]) AS m(t, i, u, v, l, o)
       ON CONFLICT DO NOTHING`,
      [
        mappings.map((m) => m.type),
        mappings.map((m) => m.id),
        mappings.map((m) => m.upstream),
        mappings.map((m) => m.version),
        mappings.map((m) => validInstant(m.upstreamLastUpdated)),
        mappings.map((m) => m.origin),
        at,
      ],
    );
  }

  /** Versions adopted from writes that bypassed ChartWarden, newest first. */
  async adopted(limit: number): Promise<(VersionMapping & { recordedAt: Date })[]> {
    const rows = await this.q.query<{ resource_type: string; id: string; upstream_version: string; version_id: number; origin: VersionOrigin; recorded_at: Date }>(
      `SELECT resource_type, id, upstream_version, version_id, origin, recorded_at FROM remote_version WHERE origin = 'upstream' ORDER BY recorded_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.id, upstream: r.upstream_version, version: r.version_id, origin: r.origin, recordedAt: r.recorded_at }));
  }

  async syncState(): Promise<SyncState> {
    const [row] = await this.q.query<{ cursor: Date | null; last_run_at: Date | null; last_outcome: string | null; versions_seen: string; versions_adopted: string }>(
      `SELECT cursor, last_run_at, last_outcome, versions_seen, versions_adopted FROM remote_sync WHERE name = $1`,
      [SYNC_ROW],
    );
    return {
      cursor: row?.cursor ?? undefined,
      lastRunAt: row?.last_run_at ?? undefined,
      lastOutcome: row?.last_outcome ?? undefined,
      versionsSeen: Number(row?.versions_seen ?? 0),
      versionsAdopted: Number(row?.versions_adopted ?? 0),
    };
  }

  /** Records a sync run: its outcome, the new cursor (kept when absent) and what it saw and adopted. */
  async syncRan(run: { at: Date; outcome: string; cursor?: Date; seen: number; adopted: number }): Promise<void> {
    await this.q.query(
      `INSERT INTO remote_sync (name, cursor, last_run_at, last_outcome, versions_seen, versions_adopted) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET cursor = COALESCE(EXCLUDED.cursor, remote_sync.cursor), last_run_at = EXCLUDED.last_run_at,
         last_outcome = EXCLUDED.last_outcome, versions_seen = remote_sync.versions_seen + EXCLUDED.versions_seen,
         versions_adopted = remote_sync.versions_adopted + EXCLUDED.versions_adopted`,
      [SYNC_ROW, run.cursor ?? null, run.at, run.outcome.slice(0, 500), run.seen, run.adopted],
    );
  }
}

/** An upstream's `lastUpdated` as PostgreSQL takes it, or null (absent or not an instant). */
function validInstant(value: string | undefined): string | null {
  return value !== undefined && !Number.isNaN(Date.parse(value)) ? value : null;
}

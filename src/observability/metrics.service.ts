import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AuditLog, type AuditCommitOutcome } from '../audit/audit-log.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { StoreAlarms } from '../store/store-alarms.js';
import { MetricsSettings } from './metrics.settings.js';
import { OperationalCounts } from './operational-counts.js';

const logger = new Logger('Metrics');

/** Request latency buckets, in seconds (a cached read is ~1 ms, an `$everything` may take seconds). */
const REQUEST_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Audit group-commit latency buckets, in seconds (one fsync-bound statement). */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * ChartWarden's Prometheus metrics (issue #14), in a registry of its own (not prom-client's
 * global one: two applications in one process never collide). Labels hold bounded values
 * only (`metric-labels.ts`): never an id, patient data or a token. Gauges of what is in
 * force (holds, break-the-glass) run one small query each at scrape time.
 */
@Injectable()
export class ChartWardenMetrics implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly requests: Counter<'interaction' | 'status'>;
  private readonly latency: Histogram<'interaction' | 'status'>;
  private readonly decisions: Counter<'rule' | 'outcome'>;
  private readonly commits: Counter<'outcome'>;
  private readonly commitLatency: Histogram;
  private readonly tripwire: Counter;

  constructor(audit: AuditLog, db: ChartWardenDatabase, counts: OperationalCounts, settings: MetricsSettings, alarms: StoreAlarms) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'chartwarden_http_requests_total',
      help: 'HTTP requests answered, by interaction (audit subtype) and status',
      labelNames: ['interaction', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'chartwarden_http_request_duration_seconds',
      help: 'Time from the request arriving to its response being sent, by interaction and status',
      labelNames: ['interaction', 'status'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.decisions = new Counter({
      name: 'chartwarden_decisions_total',
      help: 'Requests decided by the policy, by the rule that explains the outcome and the outcome (allow|deny)',
      labelNames: ['rule', 'outcome'],
      registers,
    });
    this.commits = new Counter({
      name: 'chartwarden_audit_commits_total',
      help: 'Audit group commits, by outcome (ok|failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.commits.inc({ outcome: 'failed' }, 0);
    this.commits.inc({ outcome: 'ok' }, 0);
    const entries = new Counter({ name: 'chartwarden_audit_entries_total', help: 'Audit entries committed by group commit', registers });
    this.commitLatency = new Histogram({
      name: 'chartwarden_audit_commit_duration_seconds',
      help: 'Duration of one audit group commit',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'chartwarden_audit_queue_depth',
      help: 'Audit entries waiting for a group commit',
      registers,
      collect() {
        this.set(audit.queueDepth);
      },
    });
    new Gauge({
      name: 'chartwarden_db_pool_connections',
      help: 'Connections of the request pool, by state (in_use|idle) and its maximum (max)',
      labelNames: ['state'],
      registers,
      collect() {
        const c = db.poolCounts;
        this.set({ state: 'in_use' }, c.total - c.idle);
        this.set({ state: 'idle' }, c.idle);
        this.set({ state: 'max' }, c.max);
      },
    });
    new Gauge({
      name: 'chartwarden_db_pool_waiting',
      help: 'Callers waiting for a connection of the request pool',
      registers,
      collect() {
        this.set(db.poolCounts.waiting);
      },
    });
    new Gauge({
      name: 'chartwarden_holds_active',
      help: 'Sealed dispute cases (legal holds in force, R-40…R-44)',
      registers,
      collect: scrapeCount('holds', () => counts.activeHolds()),
    });
    new Gauge({
      name: 'chartwarden_break_glass_active',
      help: 'Break-the-glass openings in force (R-04)',
      registers,
      collect: scrapeCount('break-the-glass openings', () => counts.activeBreakGlass()),
    });
    this.tripwire = new Counter({
      name: 'chartwarden_tripwire_alarms_total',
      help: 'Tripwire alarms raised by the remote store (0 with the embedded store)',
      registers,
    });
    alarms.observe(() => this.tripwire.inc());
    audit.observe((o: AuditCommitOutcome) => {
      this.commits.inc({ outcome: o.ok ? 'ok' : 'failed' });
      this.commitLatency.observe(o.durationMs / 1000);
      if (o.ok) entries.inc(o.entries);
    });
    if (settings.enabled) collectDefaultMetrics({ register: this.registry });
  }

  /** One answered request: `interaction` from `interactionLabel`, the status code, the time it took. */
  requestEnded(interaction: string, status: number, seconds: number): void {
    const labels = { interaction, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  /** The decision that explains a request's outcome: `rule` from `ruleLabel`. */
  decided(rule: string, allowed: boolean): void {
    this.decisions.inc({ rule, outcome: allowed ? 'allow' : 'deny' });
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}

/** A gauge's collect function that sets it from a count query; when the query fails the gauge says NaN (unknown), never a stale count. */
function scrapeCount(what: string, count: () => Promise<number>): (this: Gauge) => Promise<void> {
  return async function (this: Gauge) {
    try {
      this.set(await count());
    } catch (e) {
      this.set(Number.NaN);
      logger.warn(`active ${what} could not be counted: ${(e as Error).message}`);
    }
  };
}

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable, Logger, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { canonicalJson } from '../common/canonical-json.js';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditEntry } from '../audit/domain/audit-entry.js';
import { ClusterEvents } from '../cluster/cluster-events.js';
import { Clock } from '../common/clock.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import type { PolicyDocument } from './domain/policy-document.js';
import { LoadedPolicy } from './loaded-policy.js';
import { loadPolicy } from './policy.loader.js';
import { PolicyLoadError } from './policy.errors.js';

/** What made an instance re-read its policy: the operator's signal, another instance's event, or a restored event connection. */
export type ReloadTrigger = 'SIGHUP' | 'NOTIFY' | 'RECONNECT';

/** How a reload ended. */
export interface ReloadResult {
  outcome: 'applied' | 'unchanged' | 'refused' | 'not-reloadable';
  /** The version in force before. */
  from: string;
  /** The version in force after (`from` unless applied). */
  to: string;
  /** Why it was refused, one line per problem. */
  problems: string[];
}

/** Values read once at start-up by a holder this reloader cannot reach: a change is logged as waiting for a restart. */
const NEEDS_RESTART: { name: string; of: (p: LoadedPolicy) => unknown }[] = [
  { name: 'copyRequests.maxEvidenceBytes (the upload limit of FhirBodyMiddleware)', of: (p) => p.maxEvidenceBytes },
];

/**
 * Reloads the access policy without a restart (issue 14): on SIGHUP (sent by
 * `npx chartwarden policy reload` or by the operator), on another instance's `policy` event,
 * and after the cluster event connection was restored. It re-reads the source the server
 * started with (`CHARTWARDEN_POLICY`, else the shipped default), validates it with the
 * start-up loader, and puts it in force at once for every decision (`LoadedPolicy.replace`).
 *
 * A policy that does not validate, or that changed without a new version (every decision
 * records the version it was made under: two contents under one version would make the trail
 * ambiguous), is refused: the old one stays, and the log says why, one line per problem. A
 * version change is first recorded in the audit trail (R-20, R-21: subtype `policy-reload`,
 * naming both versions); if the trail cannot record it, nothing changes. The instance the
 * operator signalled then tells the others (cluster event `policy`), which re-read their own
 * source the same way.
 */
@Injectable()
export class PolicyReloader implements OnApplicationShutdown {
  private static readonly logger = new Logger('Policy');
  private queue: Promise<unknown> = Promise.resolve();
  private readonly onSignal = () => void this.reload('SIGHUP');

  constructor(
    private readonly policy: LoadedPolicy,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @Optional() private readonly cluster?: ClusterEvents,
  ) {
    // As early as the module allows: a SIGHUP with no listener would terminate the process (Node's default).
    process.on('SIGHUP', this.onSignal);
    this.cluster?.subscribe('policy', (ids) => {
      const announced = ids?.[0];
      if (announced === undefined) void this.reload('RECONNECT');
      else if (announced !== this.policy.version) void this.reload('NOTIFY', announced);
    });
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSignal);
  }

  /**
   * Re-reads, validates and (when its version changed) applies the policy; one reload at a
   * time, in the order asked. `announced`: the version another instance said it now runs.
   */
  reload(trigger: ReloadTrigger, announced?: string): Promise<ReloadResult> {
    const next = this.queue.then(() => this.reloadNow(trigger, announced));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(trigger: ReloadTrigger, announced: string | undefined): Promise<ReloadResult> {
    const log = PolicyReloader.logger;
    const from = this.policy.version;
    const source = this.policy.source;
    const quiet = trigger === 'RECONNECT';
    if (!source) {
      log.warn(`${trigger}: the policy (version ${from}) was given as an object by the embedding application and cannot be re-read; restart it with the new policy`);
      return { outcome: 'not-reloadable', from, to: from, problems: [] };
    }
    let next: PolicyDocument;
    try {
      next = loadPolicy(source, loadR4Definitions());
    } catch (e) {
      if (!(e instanceof PolicyLoadError)) throw e;
      return this.refuse(trigger, from, source, e.message.split('\n').map((l) => l.trim()).filter(Boolean));
    }
    if (next.version === from) {
      if (canonicalJson(next) !== canonicalJson(this.policy.document)) {
        return this.refuse(trigger, from, source, [
          `${source} changed but still says version "${from}": give the changed policy a new version (every decision records the version it was made under)`,
        ]);
      }
      if (!quiet) log.log(`${trigger}: the policy in ${source} is the one in force (version ${from}): nothing to reload`);
      if (announced !== undefined && announced !== from) this.disagree(source, announced, from);
      return { outcome: 'unchanged', from, to: from, problems: [] };
    }
    // Recorded first: a policy in force that the trail does not show would leave decisions no reader can explain.
    try {
      await this.audit.append([this.entry(trigger, from, next.version, source, 200)]);
    } catch (e) {
      log.error(`${trigger}: policy ${next.version} NOT put in force, version ${from} stays: the audit trail could not record the change (${(e as Error).message})`);
      return { outcome: 'refused', from, to: from, problems: ['the audit trail could not record the change'] };
    }
    const before = NEEDS_RESTART.map((n) => n.of(this.policy));
    this.policy.replace(next);
    log.log(`${trigger}: policy reloaded from ${source}: version ${from} -> ${next.version}`);
    NEEDS_RESTART.forEach((n, i) => {
      const now = n.of(this.policy);
      if (now !== before[i]) log.warn(`${n.name} changed (${String(before[i])} -> ${String(now)}): it applies from the next restart`);
    });
    if (!next.governance?.editWindows) log.warn('The policy has no governance.editWindows: edit windows (R-11) are not enforced');
    if (announced !== undefined && announced !== next.version) this.disagree(source, announced, next.version);
    if (trigger === 'SIGHUP') await this.cluster?.publish('policy', [next.version]);
    return { outcome: 'applied', from, to: next.version, problems: [] };
  }

  private async refuse(trigger: ReloadTrigger, from: string, source: string, problems: string[]): Promise<ReloadResult> {
    const log = PolicyReloader.logger;
    log.error(`${trigger}: policy reload refused, version ${from} stays in force: ${problems[0] ?? 'invalid'}`);
    for (const p of problems.slice(1)) log.error(`policy reload refused: ${p}`);
    // The attempt is in the trail too (outcome 4): who changed the file is the operator's log, that it was refused is ours.
    await this.audit.append([this.entry(trigger, from, from, source, 422)]).catch((e: unknown) => log.error(`the refused reload could not be recorded: ${(e as Error).message}`));
    return { outcome: 'refused', from, to: from, problems };
  }

  private disagree(source: string, announced: string, mine: string): void {
    PolicyReloader.logger.warn(`another instance runs policy ${announced}, but ${source} here gives ${mine}: the instances' policy files differ`);
  }

  /** The trail's entry for a reload: this instance as the agent, both versions in the request line. */
  private entry(trigger: ReloadTrigger, from: string, to: string, source: string, status: number): AuditEntry {
    return {
      recorded: this.clock.now().toISOString(),
      requestId: `policy-reload-${randomUUID()}`,
      action: 'E',
      subtype: 'policy-reload',
      outcome: status < 400 ? 0 : 4,
      status,
      ...(status >= 400 ? { error: 'policy.invalid' } : {}),
      agent: { id: `chartwarden:${hostname()}:${process.pid}`.slice(0, 128), roles: [] },
      entity: { type: 'Policy', id: to.slice(0, 64) },
      policyVersion: to,
      method: trigger,
      path: status < 400 ? `policy ${from} -> ${to} from ${source}` : `policy ${from} kept: ${source} refused`,
    };
  }
}

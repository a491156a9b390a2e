import type { AuditEntry, AuditOutcome, DisclosedVersion } from './domain/audit-entry.js';
import type { Interaction } from './domain/interaction.js';
import type { RequestAudit } from './request-audit.js';
import { clipText } from '../common/clip.js';

/** How a request ended, as far as the trail needs it. */
export interface AuditedResponse {
  status: number;
  headers?: Record<string, string>;
  /** The OperationOutcome of a failed request (its ChartWarden error code is recorded). */
  body?: unknown;
}

/** What one entry is about, when it is not simply the request as a whole. */
export interface EntryFocus {
  interaction?: Interaction;
  patient?: string;
}

const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';
/**
 * Interactions whose query string the entry keeps (BALP `entity.query`): what was searched for, and
 * for an access report which patient or 病案号 was asked about, found or not (R-20: an auditor's
 * lookups are themselves on the record, a number probed included).
 */
const KEEPS_QUERY = new Set(['search-type', 'history-type', 'everything', 'transaction', 'batch', 'access-report']);

/** R4 AuditEvent.outcome for an HTTP status: 0 success, 4 minor failure (refused, invalid), 8 serious failure. */
export function outcomeOf(status: number): AuditOutcome {
  return status < 400 ? 0 : status < 500 ? 4 : 8;
}

/**
 * The entries a request leaves: one per patient its results concern when it
 * is a search (BALP), else one. `undefined` interaction (the public CapabilityStatement): none.
 */
export function entriesFor(audit: RequestAudit, response: AuditedResponse, now: Date): AuditEntry[] {
  const interaction = audit.interaction;
  if (!interaction) return [];
  // A write's own entry was committed with its version: not again.
  if (response.status < 400 && audit.journaled.some((e) => e.subtype === interaction.subtype)) return [];
  // A failure concerns the patient it was refused for, or the one it was about when it failed later.
  const failedFor = audit.attemptedPatient ?? audit.patients.values().next().value;
  const patients = response.status < 400 ? [...audit.patients] : failedFor ? [failedFor] : [];
  if (patients.length <= 1) return [entryFor(audit, response, now, { patient: patients[0] })];
  return patients.map((patient) => entryFor(audit, response, now, { patient }));
}

/**
 * One entry of the request `audit`, about `focus`. Its keys, and its parts', are written in
 * code-unit order: the order canonical JSON puts them in, so the entry is serialised as it is,
 * without a sorted copy (`canonicalJson`; the order changes nothing else).
 */
export function entryFor(audit: RequestAudit, response: AuditedResponse, now: Date, focus: EntryFocus = {}): AuditEntry {
  const interaction = focus.interaction ?? audit.interaction ?? { action: 'E', subtype: 'http-request' };
  const actor = audit.actor;
  const decision = audit.decision;
  const failed = response.status >= 400;
  // Assigned one by one, each only when it has a value: spreading conditional parts cost more than the rest of the entry.
  const agent: AuditEntry['agent'] = {} as AuditEntry['agent'];
  set(agent, 'department', actor?.department);
  set(agent, 'id', actor?.id === undefined ? undefined : clipText(actor.id, 128));
  set(agent, 'ip', audit.ip);
  set(agent, 'practitioner', actor?.practitioner);
  agent.roles = actor?.roles ?? [];
  set(agent, 'userAgent', audit.userAgent);
  const entry = { action: interaction.action, agent } as AuditEntry;
  if (audit.breakGlass) entry.breakGlass = decision?.breakGlassId ? { id: decision.breakGlassId, reason: audit.breakGlass.reason } : { reason: audit.breakGlass.reason };
  // What a disclosure handed out: only when it succeeded (a refused or failed one handed out nothing).
  if (!failed && interaction.disclosed?.length) entry.disclosed = disclosedVersions(interaction.disclosed);
  if (interaction.entity) entry.entity = entityOf(interaction.entity, written(response.headers), KEEPS_QUERY.has(interaction.subtype) ? audit.query : undefined);
  if (failed) set(entry, 'error', errorCodeOf(response.body));
  set(entry, 'grantId', decision?.grantId);
  set(entry, 'lifecycle', interaction.lifecycle);
  entry.method = audit.method;
  entry.outcome = outcomeOf(response.status);
  entry.path = audit.path;
  set(entry, 'patient', focus.patient === undefined ? undefined : clipText(focus.patient, 64));
  set(entry, 'policyVersion', decision?.policyVersion);
  if (audit.breakGlass) entry.purpose = 'BTG';
  entry.recorded = now.toISOString();
  entry.requestId = audit.requestId;
  set(entry, 'rule', decision?.rule);
  entry.status = response.status;
  entry.subtype = clipText(interaction.subtype, 64);
  return entry;
}

/** Sets `key` when `value` says something (not undefined, not empty). */
function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined && value !== '') target[key] = value;
}

/** Id and version of what a write or read returned, from `Location` / `ETag`. */
function written(headers: Record<string, string> | undefined): { id?: string; version?: string } {
  if (!headers) return {};
  const location = /\/([^/]+)\/([^/]+)\/_history\/([^/]+)$/.exec(headers.Location ?? '');
  if (location) return { id: location[2], version: location[3] };
  const etag = /^W\/"([^"]+)"$/.exec(headers.ETag ?? '');
  return etag ? { version: etag[1] } : {};
}

function errorCodeOf(body: unknown): string | undefined {
  const issues = (body as { resourceType?: string; issue?: { details?: { coding?: { system?: string; code?: string }[] } }[] } | undefined)?.issue;
  return issues?.[0]?.details?.coding?.find((c) => c.system === ERROR_CODE_SYSTEM)?.code;
}

/**
 * The record an entry is about: what the interaction names, with the id and version a write or
 * read returned, and a search's query; within the trail's column sizes (R-20: a path segment
 * longer than any FHIR id, 64, must not stop the request from being recorded), keys in order.
 */
function entityOf(named: { type: string; id?: string; version?: string }, returned: { id?: string; version?: string }, query: string | undefined): NonNullable<AuditEntry['entity']> {
  const id = returned.id ?? named.id;
  const version = returned.version ?? named.version;
  const entity = {} as NonNullable<AuditEntry['entity']>;
  if (id !== undefined) entity.id = clipText(id, 64);
  if (query) entity.query = query;
  entity.type = clipText(named.type, 64);
  if (version !== undefined) entity.version = clipText(version, 64);
  return entity;
}

/** Each version once, in the order given, within the trail's column sizes. */
function disclosedVersions(versions: readonly DisclosedVersion[]): DisclosedVersion[] {
  const seen = new Set<string>();
  const out: DisclosedVersion[] = [];
  for (const v of versions) {
    const clipped = { id: clipText(v.id, 64), type: clipText(v.type, 64), version: clipText(v.version, 64) };
    const key = `${clipped.type}/${clipped.id}/_history/${clipped.version}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(clipped);
    }
  }
  return out;
}

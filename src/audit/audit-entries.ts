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

/** One entry of the request `audit`, about `focus`. */
export function entryFor(audit: RequestAudit, response: AuditedResponse, now: Date, focus: EntryFocus = {}): AuditEntry {
  const interaction = focus.interaction ?? audit.interaction ?? { action: 'E', subtype: 'http-request' };
  const actor = audit.actor;
  const decision = audit.decision;
  const entity = interaction.entity ? clipEntity({ ...interaction.entity, ...written(response.headers) }) : undefined;
  if (entity && KEEPS_QUERY.has(interaction.subtype) && audit.query) Object.assign(entity, { query: audit.query });
  const entry: AuditEntry = {
    recorded: now.toISOString(),
    requestId: audit.requestId,
    action: interaction.action,
    subtype: clipText(interaction.subtype, 64),
    ...(interaction.lifecycle ? { lifecycle: interaction.lifecycle } : {}),
    outcome: outcomeOf(response.status),
    status: response.status,
    ...(response.status >= 400 ? optional('error', errorCodeOf(response.body)) : {}),
    agent: {
      roles: actor?.roles ?? [],
      ...optional('id', actor?.id === undefined ? undefined : clipText(actor.id, 128)),
      ...optional('practitioner', actor?.practitioner),
      ...optional('department', actor?.department),
      ...optional('ip', audit.ip),
      ...optional('userAgent', audit.userAgent),
    },
    ...(entity ? { entity: stripUndefined(entity) } : {}),
    // What a disclosure handed out: only when it succeeded (a refused or failed one handed out nothing).
    ...(response.status < 400 && interaction.disclosed?.length ? { disclosed: disclosedVersions(interaction.disclosed) } : {}),
    ...optional('patient', focus.patient === undefined ? undefined : clipText(focus.patient, 64)),
    ...(audit.breakGlass ? { purpose: 'BTG', breakGlass: { reason: audit.breakGlass.reason, ...optional('id', decision?.breakGlassId) } } : {}),
    ...optional('grantId', decision?.grantId),
    ...optional('policyVersion', decision?.policyVersion),
    ...optional('rule', decision?.rule),
    method: audit.method,
    path: audit.path,
  };
  return entry;
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

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined || value === '' ? {} : { [key]: value }) as { [P in K]?: V };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Whatever a caller put in a URL is recorded, but within the trail's column sizes: a path
 * segment longer than any FHIR id (64) must not stop the request from being recorded.
 */
function clipEntity<T extends { type: string; id?: string; version?: string }>(e: T): T {
  return { ...e, type: clipText(e.type, 64), ...(e.id !== undefined ? { id: clipText(e.id, 64) } : {}), ...(e.version !== undefined ? { version: clipText(e.version, 64) } : {}) };
}

/** Each version once, in the order given, within the trail's column sizes. */
function disclosedVersions(versions: readonly DisclosedVersion[]): DisclosedVersion[] {
  const seen = new Set<string>();
  const out: DisclosedVersion[] = [];
  for (const v of versions) {
    const clipped = { type: clipText(v.type, 64), id: clipText(v.id, 64), version: clipText(v.version, 64) };
    const key = `${clipped.type}/${clipped.id}/_history/${clipped.version}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(clipped);
    }
  }
  return out;
}

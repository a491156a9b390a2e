import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json.js';

/** BALP / R4 AuditEvent.action: Create, Read, Update, Delete, Execute (search, operations, workflow steps). */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

/** R4 AuditEvent.outcome: success, minor failure (refused, invalid), serious failure (server error). */
export type AuditOutcome = 0 | 4 | 8;

/**
 * One recorded access or action: who, when, what, why, from where, and how it ended.
 * This is the content the hash chain covers, stored as its RFC 8785 canonical JSON; the
 * AuditEvent a reader sees is rendered from it (`balp.ts`).
 */
export interface AuditEntry {
  /** Server time the entry was recorded (ISO 8601, ms). */
  recorded: string;
  /** `X-Request-Id` of the HTTP request (one request may record several entries: one per patient). */
  requestId: string;
  action: AuditAction;
  /** The interaction or step: `read`, `vread`, `search-type`, `create`, `update`, `history-instance`, `grant-approve`, … */
  subtype: string;
  /** ISO 21089 lifecycle event, when the step is one (`access`, `originate`, `amend`, `disclose`, `hold`, `unhold`). */
  lifecycle?: string;
  outcome: AuditOutcome;
  /** HTTP status of the response. */
  status: number;
  /** The error code the response carried (e.g. `access.forbidden`), when it failed. */
  error?: string;
  agent: AuditAgent;
  /** The record concerned: `Type`, id, version; or the query of a search. */
  entity?: { type: string; id?: string; version?: string; query?: string };
  /**
   * What a disclosure handed out: every version a print, a produced or
   * delivered copy, or an export contained, each one `Type/id/_history/version` in the
   * AuditEvent. `GET /fhir/AuditEvent?entity=Type/id` finds the entry by any of them.
   */
  disclosed?: DisclosedVersion[];
  /** The patient concerned (`Patient/<id>` is `patient: '<id>'`). */
  patient?: string;
  /** Purpose of use (v3 ActReason code), e.g. `TREAT`, or `BTG` when the glass was broken. */
  purpose?: string;
  breakGlass?: { id?: string; reason: string };
  grantId?: string;
  /** The policy version and rule that decided (absent when no rule applied: default deny). */
  policyVersion?: string;
  rule?: string;
  /** The HTTP request line, for entries a reader must trace back to a call. */
  method: string;
  path: string;
}

/** One disclosed version of a record (R-20: resource ids and versions). */
export interface DisclosedVersion {
  type: string;
  id: string;
  version: string;
}

/**
 * The text that marks an entry holding `disclosed` versions in its canonical content: the
 * predicate of the partial index on them (migration 1765200000000). Canonical JSON escapes
 * every quote inside a string, so no caller-supplied value can contain it.
 */
export const DISCLOSED_MARK = '"disclosed":[';

export interface AuditAgent {
  /** Token `sub`; absent when the caller could not be identified (401). */
  id?: string;
  practitioner?: string;
  roles: readonly string[];
  department?: string;
  ip?: string;
  userAgent?: string;
}

/** The hash an empty chain starts from. */
export const GENESIS = Buffer.alloc(32);

/** The entry as the exact text the chain covers (RFC 8785 JSON canonicalization, `canonicalJson`: `json-canonicalize`'s text). */
export function canonicalContent(entry: AuditEntry): string {
  return canonicalJson(entry);
}

/** Separates the parts of the hashed text (ASCII unit separator: never in canonical JSON unescaped). */
const US = '\x1f';
/** Stands for an empty (NULL) column in the hashed text. */
const NONE = '\x1e';

/**
 * The text an entry's hash covers: its canonical content, then the row's searchable columns
 * (request id, time, actor, patient, action, subtype, outcome, entity type and id), so a
 * column edited alone breaks the hash like an edited content. `audit_sql.ts` builds the same
 * text in SQL from the stored row; this is its definition, for tests and other verifiers.
 */
export function hashedText(entry: AuditEntry): string {
  const columns = [
    entry.requestId,
    // The time as milliseconds since the epoch: the stored timestamp's exact value, whatever its text form.
    String(Date.parse(entry.recorded)),
    entry.agent.id ?? NONE,
    entry.patient ?? NONE,
    entry.action,
    entry.subtype,
    String(entry.outcome),
    entry.entity?.type ?? NONE,
    entry.entity?.id ?? NONE,
  ];
  return canonicalContent(entry) + US + columns.join(US);
}

/** `hash = SHA-256(previous hash ‖ UTF-8 hashed text)`: each entry commits to its row and to every entry before it. */
export function chainHash(previous: Buffer, text: string): Buffer {
  return createHash('sha256').update(previous).update(text, 'utf8').digest();
}

/**
 * The chain an entry joins: a deterministic function of its request id, so all entries of
 * one request share a chain (one head lock per request) and requests spread evenly over
 * `chains` (decision 0006). Node's one-shot `hash`: the same digest as a `Hash` object's, at
 * about half its cost (it is taken twice for every entry a request records).
 */
export function chainOf(requestId: string, chains: number): number {
  return hash('sha256', requestId, 'buffer').readUInt32BE(0) % chains;
}

/** The first thing wrong in a chain, in words an auditor can act on. */
export interface ChainBreak {
  chain: number;
  seq: number;
  problem: 'content-altered' | 'link-broken' | 'entry-missing' | 'head-mismatch';
  detail: string;
}

import { createHash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';

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

/** The entry as the exact text the chain covers (RFC 8785 JSON canonicalization, `json-canonicalize`). */
export function canonicalContent(entry: AuditEntry): string {
  return canonicalize(entry);
}

/** `hash = SHA-256(previous hash ‖ UTF-8 content)`: each entry commits to its content and to every entry before it. */
export function chainHash(previous: Buffer, content: string): Buffer {
  return createHash('sha256').update(previous).update(content, 'utf8').digest();
}

/**
 * The chain an entry joins: a deterministic function of its request id, so all entries of
 * one request share a chain (one head lock per request) and requests spread evenly over
 * `chains` (decision 0006).
 */
export function chainOf(requestId: string, chains: number): number {
  return createHash('sha256').update(requestId).digest().readUInt32BE(0) % chains;
}

/** The first thing wrong in a chain, in words an auditor can act on. */
export interface ChainBreak {
  chain: number;
  seq: number;
  problem: 'content-altered' | 'column-altered' | 'link-broken' | 'entry-missing' | 'head-mismatch';
  detail: string;
}

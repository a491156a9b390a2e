import type { AuditAction, DisclosedVersion } from './audit-entry.js';

/** What an HTTP request is, as the audit trail names it (BALP action + subtype, and the record addressed). */
export interface Interaction {
  action: AuditAction;
  subtype: string;
  lifecycle?: string;
  entity?: { type: string; id?: string; version?: string };
  /** The versions a disclosure handed out, set by the feature that chose them; recorded on success only. */
  disclosed?: readonly DisclosedVersion[];
}

const FHIR_TYPE = /^[A-Z][A-Za-z]+$/;

/**
 * The interaction a request asks for, from its method and path alone, so that a request
 * refused before any handler ran (401, 404 route) is still recorded as what it attempted.
 * `undefined`: not audited (`GET /fhir/metadata`, the public CapabilityStatement).
 * BALP: read `R` + read|vread, search `E` + search-type, create `C`, update `U`.
 *
 * The route's own words (`fhir`, `_history`, `$everything`, `seal`…) are read whatever their case:
 * Express routes them so by default (`/FHIR/Patient/x/$EVERYTHING` runs `$everything` on a host
 * on Express), and the trail must name what ran, a disclosure as a disclosure. Types
 * and ids are kept as sent. On Fastify, the server's platform, such a path is no route (404).
 */
export function interactionOf(method: string, path: string): Interaction | undefined {
  const parts = path.split('?')[0].split('/').filter(Boolean).map(safeDecode);
  const at = (word: string) => parts.findIndex((part) => lower(part) === word);
  const fhir = at('fhir');
  if (fhir >= 0) return fhirInteraction(method, parts.slice(fhir + 1));
  const access = at('access');
  if (access >= 0) return accessInteraction(method, parts.slice(access + 1));
  const governance = at('governance');
  if (governance >= 0) {
    const [what, id, step] = words(parts.slice(governance + 1), 0, 2);
    if (what === 'amendments') return id ? { action: 'U', subtype: `amendment-${step ?? 'read'}`, entity: { type: 'Amendment', id } } : { action: 'E', subtype: 'amendment-list', entity: { type: 'Amendment' } };
    return { action: 'E', subtype: what ?? 'governance' };
  }
  const copies = at('copy-requests');
  if (copies >= 0) return copyRequestInteraction(method, words(parts.slice(copies + 1), 1));
  const disputes = at('disputes');
  if (disputes >= 0) return disputeInteraction(method, words(parts.slice(disputes + 1), 1));
  const audit = at('audit');
  if (audit >= 0 && lower(parts[audit + 1]) === 'access-report') return { action: 'E', subtype: 'access-report', lifecycle: 'access', entity: { type: 'AuditEvent' } };
  if (audit >= 0 && lower(parts[audit + 1]) === 'integrity') return integrityInteraction(method, words(parts.slice(audit + 2), 0));
  return { action: 'E', subtype: 'http-request' };
}

function fhirInteraction(method: string, given: string[]): Interaction | undefined {
  // The words after the type: `_search`/`_history` in the id's place, the operation after an id.
  const p = /^[_$]/.test(given[1] ?? '') ? words(given, 1, 2) : words(given, 2);
  const [type, id, op, vid] = p;
  if (p.length === 0) return method === 'POST' ? { action: 'E', subtype: 'transaction', entity: { type: 'Bundle' } } : { action: 'E', subtype: 'http-request' };
  if (lower(type) === 'metadata') return undefined;
  if (!FHIR_TYPE.test(type)) return { action: 'E', subtype: 'http-request' };
  if (p.length === 1) {
    if (method === 'GET') return { action: 'E', subtype: 'search-type', lifecycle: 'access', entity: { type } };
    if (method === 'POST') return { action: 'C', subtype: 'create', lifecycle: 'originate', entity: { type } };
    // A conditional update or patch (`PUT|PATCH /Type?identifier=…`) changes the one record it matches.
    if (method === 'PUT' || method === 'PATCH') return { action: 'U', subtype: 'update', lifecycle: 'amend', entity: { type } };
    if (method === 'DELETE') return { action: 'D', subtype: 'delete', entity: { type } };
  }
  if (p.length === 2) {
    if (id === '_search' && method === 'POST') return { action: 'E', subtype: 'search-type', lifecycle: 'access', entity: { type } };
    if (id === '_history' && method === 'GET') return { action: 'R', subtype: 'history-type', lifecycle: 'access', entity: { type } };
    if (method === 'GET') return { action: 'R', subtype: 'read', lifecycle: 'access', entity: { type, id } };
    if (id === '$validate' && method === 'POST') return { action: 'E', subtype: 'validate', entity: { type } };
    // A JSON Patch is an update like a PUT (BALP): its version, its ledger entry, its guards.
    if (method === 'PUT' || method === 'PATCH') return { action: 'U', subtype: 'update', lifecycle: 'amend', entity: { type, id } };
    if (method === 'DELETE') return { action: 'D', subtype: 'delete', entity: { type, id } };
  }
  // Exporting a whole record and printing one are disclosures (R-22: DCM 110106, lifecycle disclose).
  if (p.length === 3 && op === '$everything' && method === 'GET') return { action: 'E', subtype: 'everything', lifecycle: 'disclose', entity: { type, id } };
  if (p.length === 3 && op === '$print' && method === 'GET') return { action: 'R', subtype: 'print', lifecycle: 'disclose', entity: { type, id } };
  if (p.length === 3 && op === '_history' && method === 'GET') return { action: 'R', subtype: 'history-instance', lifecycle: 'access', entity: { type, id } };
  if (p.length === 4 && op === '_history' && method === 'GET') return { action: 'R', subtype: 'vread', lifecycle: 'access', entity: { type, id, version: vid } };
  if (p.length === 3 && op.startsWith('$')) return { action: 'E', subtype: op.slice(1), entity: { type, id } };
  return { action: 'E', subtype: 'http-request', entity: { type } };
}

function accessInteraction(method: string, given: string[]): Interaction {
  const [what, id, step] = words(given, 0, 2);
  if (what === 'grants') {
    if (!id) return method === 'POST' ? { action: 'C', subtype: 'grant-request', entity: { type: 'AccessGrant' } } : { action: 'E', subtype: 'grant-list', entity: { type: 'AccessGrant' } };
    return { action: 'U', subtype: `grant-${step ?? 'read'}`, entity: { type: 'AccessGrant', id } };
  }
  if (what === 'break-glass') {
    if (!id) return { action: 'E', subtype: 'break-glass-list', entity: { type: 'BreakGlass' } };
    return { action: 'U', subtype: `break-glass-${step ?? 'read'}`, entity: { type: 'BreakGlass', id } };
  }
  if (what === 'explain') return { action: 'E', subtype: 'explain', entity: { type: 'Policy' } };
  return { action: 'E', subtype: 'http-request' };
}

/** The record room's copy requests: producing and delivering a copy are disclosures. */
function copyRequestInteraction(method: string, p: string[]): Interaction {
  const [id, step] = p;
  if (!id) return method === 'POST' ? { action: 'C', subtype: 'copy-request', entity: { type: 'CopyRequest' } } : { action: 'E', subtype: 'copy-request-list', entity: { type: 'CopyRequest' } };
  const entity = { type: 'CopyRequest', id };
  if (method === 'POST' && (step === 'produce' || step === 'deliver')) return { action: 'U', subtype: `copy-${step}`, lifecycle: 'disclose', entity };
  if (method === 'POST' && step) return { action: 'U', subtype: `copy-${step}`, entity };
  return { action: 'R', subtype: step ? `copy-${step}` : 'copy-request-read', lifecycle: 'access', entity };
}

/** The disputes workflow: sealing is ISO 21089 `hold`, unsealing `unhold`. */
function disputeInteraction(method: string, p: string[]): Interaction {
  const [id, step] = p;
  if (!id) return method === 'POST' ? { action: 'C', subtype: 'dispute-open', entity: { type: 'Dispute' } } : { action: 'E', subtype: 'dispute-list', entity: { type: 'Dispute' } };
  const entity = { type: 'Dispute', id };
  if (method === 'POST' && (step === 'seal' || step === 'supplement')) return { action: 'U', subtype: `dispute-${step}`, lifecycle: 'hold', entity };
  if (method === 'POST' && step === 'unseal') return { action: 'U', subtype: 'dispute-unseal', lifecycle: 'unhold', entity };
  if (method === 'POST' && step === 'confirmations') return { action: 'C', subtype: 'dispute-confirm', entity };
  return { action: 'R', subtype: step ? `dispute-${step}` : 'dispute-read', lifecycle: 'access', entity };
}

/** Integrity runs (issue #18, R-21): the state of `audit verify` / `ledger verify`, starting a run, one run. */
function integrityInteraction(method: string, p: string[]): Interaction {
  const [what, id] = p;
  if (what === 'runs' && id) return { action: 'R', subtype: 'integrity-run-read', entity: { type: 'IntegrityRun', id } };
  if (what === 'runs' && method === 'POST') return { action: 'E', subtype: 'integrity-run-start', entity: { type: 'IntegrityRun' } };
  return { action: 'E', subtype: 'integrity-state', entity: { type: 'IntegrityRun' } };
}

/** A route's word as the route spells it (lower case); undefined stays undefined. */
function lower(part: string | undefined): string | undefined {
  return part?.toLowerCase();
}

/** `parts` with the route's words, at `positions`, in lower case (the other parts, types and ids, as sent). */
function words(parts: string[], ...positions: number[]): string[] {
  return parts.map((part, i) => (positions.includes(i) ? part.toLowerCase() : part));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

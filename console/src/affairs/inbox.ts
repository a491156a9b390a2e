import type { AccessGrant, Amendment, DisputeCase, DocumentSummary } from './approvals.api';

/**
 * Medical affairs' one inbox (issue #18): what the four APIs say waits for a decision, as one
 * list, oldest first. Pure: the page reads the lists, this puts them together.
 */
export type InboxKind = 'grant' | 'amendment' | 'unseal' | 'break-glass';
export const INBOX_KINDS: readonly InboxKind[] = ['grant', 'amendment', 'unseal', 'break-glass'];

interface Common {
  /** `<kind>:<id>`: unique across kinds, the drawer's `?item=`. */
  key: string;
  id: string;
  /** When it began to wait (ISO 8601). */
  at: string;
  /** Who raised it: the grant's or amendment's requester, the officer who sealed the case, who broke the glass. */
  requester: string;
  /** The patient's id, when known. */
  patient?: string;
  /** What it is about, as sent (a reason). */
  subject: string;
}

export type InboxItem = Common &
  (
    | { kind: 'grant'; grant: AccessGrant; extension: boolean }
    | { kind: 'amendment'; amendment: Amendment; document?: DocumentSummary }
    | { kind: 'unseal'; dispute: DisputeCase }
    | { kind: 'break-glass'; use: AccessGrant }
  );

export interface InboxSources {
  grants?: readonly AccessGrant[];
  amendments?: readonly Amendment[];
  breakGlass?: readonly AccessGrant[];
  sealed?: readonly DisputeCase[];
  documents?: ReadonlyMap<string, DocumentSummary>;
  /** Keys to leave out (sealed cases with an unseal approval still usable, `GET /disputes/{id}/confirmations`). */
  hidden?: ReadonlySet<string>;
}

/** A grant waits while it is requested, or approved with an extension asked for. */
export function grantWaits(g: AccessGrant): boolean {
  return g.kind === 'grant' && (g.status === 'requested' || (g.status === 'approved' && g.extensionUntil !== null));
}

/** Everything waiting, oldest first (ties by kind and id, so the order never jumps). */
export function buildInbox(s: InboxSources): InboxItem[] {
  const items: InboxItem[] = [];
  for (const g of s.grants ?? []) {
    if (!grantWaits(g)) continue;
    const extension = g.status === 'approved';
    items.push({ key: `grant:${g.id}`, kind: 'grant', id: g.id, at: g.createdAt, requester: g.requestedBy, patient: g.patientId, subject: extension ? (g.extensionReason ?? g.reason) : g.reason, grant: g, extension });
  }
  for (const a of s.amendments ?? []) {
    if (a.status !== 'requested') continue;
    const document = s.documents?.get(a.document);
    items.push({ key: `amendment:${a.id}`, kind: 'amendment', id: a.id, at: a.requestedAt, requester: a.requestedBy, patient: document?.patient, subject: a.reason, amendment: a, document });
  }
  for (const c of s.sealed ?? []) {
    if (c.status !== 'sealed' || !c.sealedAt) continue;
    items.push({ key: `unseal:${c.id}`, kind: 'unseal', id: c.id, at: c.sealedAt, requester: c.sealedBy ?? c.openedBy, patient: c.patient, subject: c.reason, dispute: c });
  }
  for (const b of s.breakGlass ?? []) {
    if (b.kind !== 'break-glass' || b.reviewedAt) continue;
    items.push({ key: `break-glass:${b.id}`, kind: 'break-glass', id: b.id, at: b.createdAt, requester: b.grantee, patient: b.patientId, subject: b.reason, use: b });
  }
  return items
    .filter((i) => !s.hidden?.has(i.key))
    .sort((x, y) => Date.parse(x.at) - Date.parse(y.at) || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

/** The item `key` names (`grant:<id>`…), if it still waits. */
export function findItem(items: readonly InboxItem[], key: string | null): InboxItem | undefined {
  return key ? items.find((i) => i.key === key) : undefined;
}

/**
 * From when the hospital may unseal alone for want of a claim: `years` after sealing,
 * fractions of a year as days of 365.25 — as the server computes it
 * (src/disputes/domain/dispute-case.ts `noClaimUnsealFrom`), which decides at unsealing.
 */
export function noClaimUnsealFrom(sealedAt: string, years: number): Date {
  const out = new Date(sealedAt);
  out.setUTCFullYear(out.getUTCFullYear() + Math.floor(years));
  const rest = years - Math.floor(years);
  return rest ? new Date(out.getTime() + rest * 365.25 * 86_400_000) : out;
}

/** What a waiting grant asks for: the end of the access, or of its extension. */
export function askedUntil(g: AccessGrant): string {
  return g.status === 'approved' && g.extensionUntil ? g.extensionUntil : g.requestedUntil;
}

/** Whether an approval ended the access earlier than `asked` (cut at the policy's `grants.maxDays`, R-05). */
export function grantCut(asked: string, approved: AccessGrant): boolean {
  return approved.validUntil !== null && Date.parse(approved.validUntil) < Date.parse(asked);
}

import { shownIdNumber, type IdNumberShown } from '../../common/id-masking.js';
import type { CopyEvent, CopyRequestRecord } from '../domain/copy-request.js';
import type { ChecklistItem } from '../../policy/domain/copy-checklists.js';
import { missingEvidence } from '../domain/copy-request.js';
import type { EvidenceRecord, ProductionRecord } from '../copy-requests.repository.js';

/** One production as the desk sees it (the record, numbered `n`, its time in ISO 8601), with where its two files are read. */
export type ProductionView = Omit<ProductionRecord, 'copyNo' | 'createdAt'> & {
  n: number;
  createdAt: string;
  pdf: string;
  json: string;
};

/** A copy request as the desk sees it: where it stands, its checklist and evidence, its copies and its whole life. */
export type CopyRequestView = Omit<CopyRequestRecord, 'receivedAt' | 'closedAt'> & {
  receivedAt: string;
  closedAt?: string;
  checklist: { required: string[]; presented: string[]; missing: string[] };
  evidence: { id: string; proves: string; filename?: string; contentType: string; size: number; sha256: string; uploadedAt: string }[];
  productions: ProductionView[];
};

/**
 * What a view is made of: the request, its evidence and productions, its requester type's
 * checklist, where copies are read (`…/copy-requests`' base), and how its reader sees ID numbers
 * (the requester's, the recipient's at delivery): whole for the roles the policy names, else masked.
 */
export interface ViewParts {
  request: CopyRequestRecord;
  evidence: readonly EvidenceRecord[];
  productions: readonly ProductionRecord[];
  checklist: readonly ChecklistItem[];
  base: string;
  idNumbers: IdNumberShown;
}

/** The desk's view of a request. */
export function copyRequestView({ request: r, evidence, productions, checklist, base, idNumbers }: ViewParts): CopyRequestView {
  const presented = [...new Set(evidence.map((e) => e.proves))];
  return {
    id: r.id,
    patient: r.patient,
    requesterType: r.requesterType,
    requester: { ...r.requester, idNumber: shownIdNumber(r.requester.idNumber, idNumbers) },
    purpose: r.purpose,
    scope: r.scope,
    status: r.status,
    receivedBy: r.receivedBy,
    receivedAt: r.receivedAt.toISOString(),
    ...(r.closedAt ? { closedAt: r.closedAt.toISOString() } : {}),
    checklist: { required: checklist.map((i) => (typeof i === 'string' ? i : i.join(' or '))), presented, missing: missingEvidence(checklist, presented) },
    evidence: evidence.map((e) => ({
      id: e.id,
      proves: e.proves,
      ...(e.filename ? { filename: e.filename } : {}),
      contentType: e.contentType,
      size: e.size,
      sha256: e.sha256,
      uploadedAt: e.uploadedAt.toISOString(),
    })),
    productions: productions.map((p) => ({
      n: p.copyNo,
      createdAt: p.createdAt.toISOString(),
      createdBy: p.createdBy,
      manifest: p.manifest,
      pending: p.pending,
      excluded: p.excluded,
      bundleSha256: p.bundleSha256,
      pdfSha256: p.pdfSha256,
      pages: p.pages,
      pdf: `${base}/copy-requests/${r.id}/copies/${p.copyNo}.pdf`,
      json: `${base}/copy-requests/${r.id}/copies/${p.copyNo}.json`,
    })),
    events: r.events.map((e) => eventView(e, idNumbers)),
  };
}

/** A step of the request's life as its reader sees it: a delivery names the recipient's ID number, shown as the requester's is. */
function eventView(event: CopyEvent, idNumbers: IdNumberShown): CopyEvent {
  const to = event.to as { idNumber?: unknown } | undefined;
  if (event.step !== 'delivered' || typeof to?.idNumber !== 'string') return event;
  return { ...event, to: { ...to, idNumber: shownIdNumber(to.idNumber, idNumbers) } };
}

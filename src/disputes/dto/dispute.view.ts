import type { FhirContext } from '../../fhir/fhir-request.js';
import { DisputeError, DisputeErrorCode } from '../disputes.errors.js';
import type { DisputesRepository } from '../disputes.repository.js';
import type { DisputeStatus, InventoryLine } from '../domain/dispute-case.js';
import type { Confirmation, DisputeCase, SealedCopySummary } from '../domain/dispute-records.js';

/** A case as the API shows it: as kept, its instants as ISO 8601 text, with its inventory counts and sealed copies. */
export type DisputeView = Omit<DisputeCase, 'openedAt' | 'sealedAt' | 'unsealedAt'> & {
  openedAt: string;
  sealedAt?: string;
  unsealedAt?: string;
  inventory: { sealed: number; pending: number };
  copies: CopyView[];
};

/** A sealed copy as the API lists it: its creation instant as text, and where its two files are read. */
export type CopyView = Omit<SealedCopySummary, 'createdAt'> & { createdAt: string; pdf: string; json: string };

/** A confirmation as the API shows it: when it was given, and until when the officer's step may use it. */
export type ConfirmationView = Omit<Confirmation, 'confirmedAt'> & { confirmedAt: string; validUntil: string };

/** The inventory (封存清单) as the API shows it, with the digest over every line, sealed and pending. */
export interface InventoryView {
  dispute: string;
  patient: string;
  status: DisputeStatus;
  digest: string;
  lines: InventoryLine[];
}

/** What a case's view is made of: the case, its inventory counts and copies, and where the workflow APIs live (the FHIR base's parent). */
export interface CaseViewParts {
  dispute: DisputeCase;
  inventory: { sealed: number; pending: number };
  copies: readonly SealedCopySummary[];
  base: string;
}

/** The API's view of a case. */
export function disputeView({ dispute: c, inventory, copies, base }: CaseViewParts): DisputeView {
  return {
    id: c.id,
    patient: c.patient,
    scope: c.scope,
    trigger: c.trigger,
    reason: c.reason,
    team: c.team,
    status: c.status,
    openedBy: c.openedBy,
    openedAt: c.openedAt.toISOString(),
    ...(c.sealedAt ? { sealedAt: c.sealedAt.toISOString(), sealedBy: c.sealedBy } : {}),
    ...(c.unsealedAt ? { unsealedAt: c.unsealedAt.toISOString(), unsealing: c.unsealing } : {}),
    inventory,
    copies: copies.map((k) => ({
      n: k.n,
      kind: k.kind,
      createdAt: k.createdAt.toISOString(),
      createdBy: k.createdBy,
      witnesses: k.witnesses,
      inventorySha256: k.inventorySha256,
      bundleSha256: k.bundleSha256,
      pdfSha256: k.pdfSha256,
      pages: k.pages,
      pdf: `${base}/disputes/${c.id}/copies/${k.n}.pdf`,
      json: `${base}/disputes/${c.id}/copies/${k.n}.json`,
    })),
  };
}

/** The API's view of a confirmation: usable until `minutes` after it was given. */
export function confirmationView(c: Confirmation, minutes: number): ConfirmationView {
  return {
    id: c.id,
    dispute: c.dispute,
    step: c.step,
    kind: c.kind,
    by: c.by,
    ...(c.inventoryDigest ? { inventoryDigest: c.inventoryDigest } : {}),
    ...(c.basis ? { basis: c.basis } : {}),
    ...(c.reason ? { reason: c.reason } : {}),
    confirmedAt: c.confirmedAt.toISOString(),
    validUntil: new Date(c.confirmedAt.getTime() + minutes * 60_000).toISOString(),
  };
}

/**
 * A case as it now stands, for the operator in `ctx` (who is told it concerns the case's
 * patient): read after a step commits, or for `GET /disputes/{id}`.
 */
export async function currentView(cases: DisputesRepository, ctx: FhirContext, id: string): Promise<DisputeView> {
  const parts = await cases.overview(id);
  if (!parts) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
  ctx.audit?.concerns([parts.dispute.patient]);
  // The workflow APIs live beside the FHIR base (`…/fhir` → `…/disputes`).
  return disputeView({ ...parts, base: ctx.baseUrl.replace(/\/fhir$/, '') });
}

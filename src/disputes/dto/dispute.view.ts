import type { UnsealRecordRepository, UnsealRecordSummary } from '../unseal-record.repository.js';
import { shownIdNumber, type IdNumberShown } from '../../common/id-masking.js';
import type { FhirContext } from '../../fhir/fhir-request.js';
import { DisputeError, DisputeErrorCode } from '../disputes.errors.js';
import type { DisputesRepository } from '../disputes.repository.js';
import type { DisputeStatus, InventoryLine, PatientWitness } from '../domain/dispute-case.js';
import type { Confirmation, DisputeCase, SealedCopySummary, SealWitnesses, Unsealing } from '../domain/dispute-records.js';

/** A case as the API shows it: as kept, its instants as ISO 8601 text, with its inventory counts and sealed copies. */
export type DisputeView = Omit<DisputeCase, 'openedAt' | 'sealedAt' | 'unsealedAt'> & {
  openedAt: string;
  sealedAt?: string;
  unsealedAt?: string;
  inventory: { sealed: number; pending: number };
  copies: CopyView[];
  /** The 启封记录 made when the case was unsealed, with where to download it. */
  unsealRecord?: UnsealRecordView;
  /** While sealed: from when the hospital may unseal alone for want of a claim (policy `disputes.unilateralUnsealAfterYears`, R-43). */
  unilateralUnsealFrom?: string;
};

/** A drawn signature as the view shows it: its hash, and where the officer downloads the PNG. */
export type SignatureView = NonNullable<PatientWitness['signature']> & { url: string };

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
  /** The lines the digest covers; a line sealed by a copy carries `pages` (页数): how many pages the record takes in that copy's PDF. */
  lines: (InventoryLine & { pages?: number })[];
  /** How people read each line, keyed `Type/id`: display only, not part of the lines or the digest. */
  described: Record<string, InventoryLineDescription>;
}

/** A line as people read it (文书名称, 日期), and for a sealed case's pending line whether it is now complete (R-41: a supplement would seal it). */
export interface InventoryLineDescription {
  name: string;
  /** The record's own date (ISO 8601 as it gives it); a visit's admission. */
  date?: string;
  /** A visit's discharge. */
  end?: string;
  completedSince?: true;
}

/**
 * What a case's view is made of: the case, its inventory counts and copies, where the workflow
 * APIs live (the FHIR base's parent), and how its reader sees the patient side's ID numbers:
 * whole for the roles the policy names (`settings.idNumbersVisibleTo`), else masked as the papers print them.
 */
export interface CaseViewParts {
  dispute: DisputeCase;
  inventory: { sealed: number; pending: number };
  copies: readonly SealedCopySummary[];
  base: string;
  idNumbers: IdNumberShown;
  /** The case's 启封记录, once unsealed. */
  unsealRecord?: UnsealRecordSummary;
}

/** The API's view of a case. */
export function disputeView({ dispute: c, inventory, copies, base, idNumbers, unsealRecord }: CaseViewParts): DisputeView {
  const shown: PatientShown = { idNumbers, signatureUrl: (sha256) => `${base}/disputes/${c.id}/signatures/${sha256}.png` };
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
    ...(c.unsealedAt ? { unsealedAt: c.unsealedAt.toISOString(), unsealing: c.unsealing && unsealingView(c.unsealing, shown) } : {}),
    inventory,
    copies: copies.map((k) => ({
      n: k.n,
      kind: k.kind,
      createdAt: k.createdAt.toISOString(),
      createdBy: k.createdBy,
      witnesses: witnessesView(k.witnesses, shown),
      inventorySha256: k.inventorySha256,
      bundleSha256: k.bundleSha256,
      pdfSha256: k.pdfSha256,
      pages: k.pages,
      pdf: `${base}/disputes/${c.id}/copies/${k.n}.pdf`,
      json: `${base}/disputes/${c.id}/copies/${k.n}.json`,
    })),
    ...(unsealRecord
      ? { unsealRecord: { ...unsealRecord, createdAt: unsealRecord.createdAt.toISOString(), pdf: `${base}/disputes/${c.id}/copies/unseal-record.pdf` } }
      : {}),
  };
}

/** How a reader sees the patient side: their ID-number reading, and where a drawn signature is downloaded. */
interface PatientShown {
  idNumbers: IdNumberShown;
  signatureUrl: (sha256: string) => string;
}

/** The patient side as its reader sees it: the ID document's number whole or masked, a drawn signature with its URL. */
function patientView(p: PatientWitness, shown: PatientShown): PatientWitness & { signature?: SignatureView } {
  const { signature, ...rest } = p;
  const view = { ...rest, idDocument: { ...p.idDocument, number: shownIdNumber(p.idDocument.number, shown.idNumbers) } };
  return signature ? { ...view, signature: { ...signature, url: shown.signatureUrl(signature.sha256) } } : view;
}

function witnessesView(w: SealWitnesses, shown: PatientShown): SealWitnesses {
  return w.patient ? { ...w, patient: patientView(w.patient, shown) } : w;
}

function unsealingView(u: Unsealing, shown: PatientShown): Unsealing {
  return u.basis === 'both-sides' ? { ...u, patient: patientView(u.patient, shown) } : u;
}

/** The unseal record as the API shows it: its digests and pages, and the URL of its PDF. */
export type UnsealRecordView = Omit<UnsealRecordSummary, 'createdAt'> & { createdAt: string; pdf: string };

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
 * patient): read after a step commits, or for `GET /disputes/{id}`, its ID numbers as the
 * operator reads them (`DisputeCaseAccess.idNumbersShown`).
 */
export async function currentView(
  repositories: { cases: DisputesRepository; unsealRecords: UnsealRecordRepository },
  ctx: FhirContext,
  id: string,
  idNumbers: IdNumberShown,
): Promise<DisputeView> {
  const parts = await repositories.cases.overview(id);
  if (!parts) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
  ctx.audit?.concerns([parts.dispute.patient]);
  const unsealRecord = parts.dispute.status === 'unsealed' ? await repositories.unsealRecords.summary(parts.dispute.id) : undefined;
  // The workflow APIs live beside the FHIR base (`…/fhir` → `…/disputes`).
  return disputeView({ ...parts, base: ctx.baseUrl.replace(/\/fhir$/, ''), idNumbers, unsealRecord });
}

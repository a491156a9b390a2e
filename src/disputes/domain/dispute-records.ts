import type { DisputeScope, DisputeStatus, DisputeTrigger, HospitalWitness, InventoryLine, PatientWitness } from './dispute-case.js';

/**
 * A dispute case as kept (R-40…R-44): the patient, what is in scope, why, who may still read a
 * public incident's sealed records, and where it stands (`open` → `sealed` → `unsealed`).
 */
export interface DisputeCase {
  id: string;
  patient: string;
  scope: DisputeScope;
  trigger: DisputeTrigger;
  reason: string;
  /** Practitioner references of the case team; the officer who opened the case is on it. */
  team: string[];
  status: DisputeStatus;
  openedBy: string;
  openedAt: Date;
  sealedAt?: Date;
  sealedBy?: string;
  unsealedAt?: Date;
  /** How the unsealing was justified. */
  unsealing?: Unsealing;
}

/** One line of a case's inventory (封存清单), with the sealed copy that sealed it (none while pending). */
export interface InventoryItem {
  line: InventoryLine;
  copyNo?: number;
}

/** The hospital side of a sealed copy or an unsealing: a witness who confirmed with their own request, and the officer who acted. */
export type ConfirmedSide = HospitalWitness & { confirmation?: string; confirmedAt?: string; officer?: string };

/**
 * Both sides of a sealed copy: the hospital side's witness (their confirmation) and the
 * officer, and the patient side, or why it was absent (a public incident sealed at once, R-44;
 * a supplement, made by the hospital alone).
 */
export interface SealWitnesses {
  hospital: ConfirmedSide;
  patient: PatientWitness | null;
  immediate?: string;
}

/** How an unsealing was justified: both sides again, or a basis approved by medical affairs. */
export type Unsealing =
  | { basis: 'both-sides'; hospital: ConfirmedSide; patient: PatientWitness }
  | { basis: 'resolved' | 'no-claim'; reason?: string; approvedBy: ConfirmedSide; officer: HospitalWitness };

/** A sealed copy as listed with its case: what it is and the hashes it was recorded with. */
export interface SealedCopySummary {
  n: number;
  kind: 'seal' | 'supplement';
  createdAt: Date;
  createdBy: string;
  witnesses: SealWitnesses;
  inventorySha256: string;
  bundleSha256: string;
  pdfSha256: string;
  pages: number;
}

/** A sealed copy's files exactly as sealed: the electronic copy (canonical JSON) and the PDF, with their hashes. */
export interface SealedCopyFiles {
  bundle: string;
  bundleSha256: string;
  pdf: Buffer;
  pdfSha256: string;
}

/**
 * A sealed copy as written by a seal or a supplement: what is listed of it, its files, and the
 * pages each record it seals occupies in its PDF (`{"Type/id": count}`, 页数).
 */
export type NewSealedCopy = SealedCopySummary & SealedCopyFiles & { recordPages: Record<string, number> };

/** The step a confirmation is for: sealing the case, or unsealing it. */
export type ConfirmationStep = 'seal' | 'unseal';
/** Who confirms: the hospital side's witness, or medical affairs approving a unilateral unseal. */
export type ConfirmationKind = 'hospital-witness' | 'unseal-approval';

/**
 * A confirmation given by a person at the table with their own authenticated request (R-40,
 * R-43): the hospital side's witness (of an inventory digest, or of an unsealing), or medical
 * affairs' approval of a unilateral unseal with its basis and reason.
 */
export interface Confirmation {
  id: string;
  dispute: string;
  step: ConfirmationStep;
  kind: ConfirmationKind;
  by: { id: string; practitioner: string; roles: string[] };
  inventoryDigest?: string;
  basis?: 'resolved' | 'no-claim';
  reason?: string;
  confirmedAt: Date;
}

/** The officer as the hospital side of a step they take alone (a public incident's seal, a supplement, a unilateral unseal). */
export function hospitalSide(actor: { id: string; practitioner: string; roles: readonly string[] }): HospitalWitness {
  return { id: actor.id, practitioner: actor.practitioner, roles: actor.roles, confirmed: true };
}

/** The person behind a confirmation, as the case records them. */
export function confirmedSide(c: Confirmation): ConfirmedSide & { confirmation: string; confirmedAt: string } {
  return { id: c.by.id, practitioner: c.by.practitioner, roles: c.by.roles, confirmed: true, confirmation: c.id, confirmedAt: c.confirmedAt.toISOString() };
}

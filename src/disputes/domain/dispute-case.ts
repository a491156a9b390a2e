import { createHash } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json.js';
import type { Bundle, Composition, Extension, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';
import { documentStatus } from '../../policy/domain/document-status.js';
import { contentSha256 } from '../../common/content-hash.js';
import { dayEndsAt, dayStartsAt } from '../../common/hospital-time.js';
import type { SignatureOnRecord } from './patient-signature.js';

/** What a case seals: the whole record, some encounters (visits), or the encounters of a period. */
export type DisputeScope =
  | { kind: 'whole-record' }
  | { kind: 'encounters'; encounters: string[] }
  | { kind: 'date-range'; from: string; to: string };

/** Why a case is opened: a dispute between the sides, or a public-opinion incident (sealed at once, R-44). */
export type DisputeTrigger = 'dispute' | 'public-incident';
/** Where a case stands: `open` → `sealed` → `unsealed`. */
export type DisputeStatus = 'open' | 'sealed' | 'unsealed';

/** A case as `POST /disputes` asks for it. */
export interface DisputeRequest {
  patient: string;
  scope: DisputeScope;
  trigger: DisputeTrigger;
  reason: string;
  /** Practitioner references of the case team: who may still read sealed records of a public incident. */
  team: string[];
}

/** The patient side at the table: the patient or their agent / next of kin, identified by a document. */
export interface PatientWitness {
  name: string;
  relationship: (typeof RELATIONSHIPS)[number];
  idDocument: { type: string; number: string };
  confirmed: true;
  /** The signature they drew on the tablet, by its SHA-256 (the PNG is kept append-only beside the case). */
  signature?: SignatureOnRecord;
}

/** The hospital side: a practitioner who authenticated with their own token (never the officer alone). */
export interface HospitalWitness {
  id: string;
  practitioner: string;
  roles: readonly string[];
  confirmed: true;
}

/** Who may stand for the patient at the table. */
export const RELATIONSHIPS = ['self', 'agent', 'spouse', 'parent', 'child', 'sibling', 'heir', 'other'] as const;

const filled = z.string().trim().min(1);

/** The patient side as the table records it: every part present, trimmed (the ID number is kept whole: it identifies who was present). */
const patientWitnessSchema = z.object({
  name: filled,
  relationship: z.enum(RELATIONSHIPS),
  idDocument: z.object({ type: filled, number: filled }),
  confirmed: z.literal(true),
});

/** Each part of the patient side, as named when it is missing. */
const WITNESS_PARTS: Readonly<Record<string, string>> = {
  name: 'patientWitness.name',
  relationship: `patientWitness.relationship (${RELATIONSHIPS.join(', ')})`,
  idDocument: 'patientWitness.idDocument {type, number}',
  confirmed: 'patientWitness.confirmed: true (the patient side confirms the inventory)',
};

/**
 * The patient side's confirmation, or what is missing from it (R-40: both sides present).
 * Returns the problems, empty when complete. A missing part is a missing confirmation, not a
 * malformed request: sealing answers 422 listing it with whatever else is missing.
 */
export function patientWitnessProblems(value: unknown): string[] {
  if (!value || typeof value !== 'object') return ['patientWitness: the patient side (name, relationship, idDocument {type, number}, confirmed: true)'];
  const parsed = patientWitnessSchema.safeParse(value);
  if (parsed.success) return [];
  const missing = new Set(parsed.error.issues.map((i) => String(i.path[0])));
  return Object.keys(WITNESS_PARTS)
    .filter((part) => missing.has(part))
    .map((part) => WITNESS_PARTS[part]);
}

/** The patient side as kept; for a value `patientWitnessProblems` found complete. */
export function patientWitness(value: unknown): PatientWitness {
  return patientWitnessSchema.parse(value);
}

/** Statuses at which a resource is not yet complete: it is inventoried as pending and sealed by a supplement. */
const UNFINISHED: Readonly<Record<string, readonly string[]>> = {
  Encounter: ['planned', 'arrived', 'triaged', 'in-progress', 'onleave'],
  Observation: ['registered', 'preliminary'],
  DiagnosticReport: ['registered', 'partial', 'preliminary'],
  MedicationRequest: ['draft', 'active', 'on-hold'],
  ServiceRequest: ['draft', 'active', 'on-hold'],
  Procedure: ['preparation', 'in-progress', 'on-hold'],
  EpisodeOfCare: ['planned', 'waitlist', 'active', 'onhold'],
  CareTeam: ['proposed', 'active', 'suspended'],
};

/**
 * Whether a resource is complete, so that sealing freezes it: a clinical document
 * (one of the governed types) once signed; an encounter once finished; an order or report
 * once no longer active or preliminary. Anything else is complete as it is.
 */
export function isComplete(resource: Resource, governed: readonly string[], closed: readonly string[]): boolean {
  if (governed.includes(resource.resourceType)) return closed.includes(documentStatus(resource) ?? '');
  return !(UNFINISHED[resource.resourceType] ?? []).includes((resource as { status?: string }).status ?? '');
}

/** One inventory line as sealed copies and `seal verify` hash it. */
export interface InventoryLine {
  type: string;
  id: string;
  version: number;
  status: 'sealed' | 'pending';
  sha256?: string;
}

/**
 * The inventory digest: SHA-256 of RFC 8785 canonical JSON of every inventory line,
 * ordered by type and id — complete lines with their version and its SHA-256, pending lines with
 * the version inventoried (no hash: they may still change, R-41). The digest both sides are shown
 * (`GET …/inventory`) and confirm, and the one stored with and printed on every page of the sealed
 * copy. Not the hash of the copy's bytes (`bundleSha256`, `pdfSha256`): those are other digests.
 */
export function inventoryDigest(lines: readonly InventoryLine[]): string {
  const ordered = [...lines].sort((a, b) => (a.type === b.type ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.type < b.type ? -1 : 1));
  return createHash('sha256').update(canonicalJson(ordered), 'utf8').digest('hex');
}

/**
 * The extension on a sealed copy's Composition stating its inventory: `digest` (the
 * inventory digest, as printed) and one `pending` version-specific reference per pending line,
 * so that `seal verify` can recompute the digest from the copy and the sealed lines.
 */
export const SEALED_INVENTORY_EXTENSION = 'https://chartwarden.dev/fhir/StructureDefinition/sealed-inventory';

const PENDING_REFERENCE = /^([A-Za-z]{1,64})\/([A-Za-z0-9\-.]{1,64})\/_history\/(\d{1,9})$/;

/** The sealed copy's Bundle with its inventory stated on its Composition (the first entry). */
export function withSealedInventory(bundle: Bundle, digest: string, pending: readonly InventoryLine[]): Bundle {
  const [first, ...rest] = bundle.entry ?? [];
  const composition = first?.resource as Composition;
  const extension: Extension = {
    url: SEALED_INVENTORY_EXTENSION,
    extension: [
      { url: 'digest', valueString: digest },
      ...pending.map((p) => ({ url: 'pending', valueReference: { reference: `${p.type}/${p.id}/_history/${p.version}` } })),
    ],
  };
  return { ...bundle, entry: [{ ...first, resource: { ...composition, extension: [...(composition.extension ?? []), extension] } }, ...rest] };
}

/** What a sealed copy's Bundle states about its inventory; `undefined` when it states nothing readable. */
export function statedInventory(bundle: Bundle): { digest: string; pending: InventoryLine[] } | undefined {
  const composition = bundle.entry?.[0]?.resource as Composition | undefined;
  const stated = composition?.extension?.find((e) => e.url === SEALED_INVENTORY_EXTENSION)?.extension ?? [];
  const digest = stated.find((e) => e.url === 'digest')?.valueString;
  if (!digest) return undefined;
  const pending: InventoryLine[] = [];
  for (const e of stated.filter((x) => x.url === 'pending')) {
    const m = PENDING_REFERENCE.exec(e.valueReference?.reference ?? '');
    if (!m) return undefined;
    pending.push({ type: m[1], id: m[2], version: Number(m[3]), status: 'pending' });
  }
  return { digest, pending };
}

/**
 * The inventory line sealing `resource` (stored as version `version`) now would write:
 * complete, sealed with the SHA-256 of its canonical JSON (as the edit ledger hashes it);
 * unfinished, pending at that version.
 */
export function inventoryLine(resource: Resource, version: number, governed: readonly string[], closed: readonly string[]): InventoryLine {
  const ref = { type: resource.resourceType, id: resource.id as string, version };
  return isComplete(resource, governed, closed) ? { ...ref, status: 'sealed', sha256: contentSha256(resource) } : { ...ref, status: 'pending' };
}

/**
 * The instants a case's scope covers, for a period: its first and last day whole, as the
 * hospital's days (`timeZone`, policy `settings.timeZone`: from the first instant of `from` to
 * the last of `to`, daylight saving included); none for the other scopes.
 */
export function scopePeriod(scope: DisputeScope, timeZone: string): { from: string; to: string } | undefined {
  return scope.kind === 'date-range' ? { from: dayStartsAt(scope.from, timeZone).toISOString(), to: dayEndsAt(scope.to, timeZone).toISOString() } : undefined;
}

/**
 * When a sealed case may be unsealed by the hospital alone for want of a claim: `years`
 * after sealing (fractions of a year as days of 365.25).
 */
export function noClaimUnsealFrom(sealedAt: Date, years: number): Date {
  const out = new Date(sealedAt);
  out.setUTCFullYear(out.getUTCFullYear() + Math.floor(years));
  const rest = years - Math.floor(years);
  return rest ? new Date(out.getTime() + rest * 365.25 * 86_400_000) : out;
}

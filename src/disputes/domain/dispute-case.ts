import { createHash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import type { Bundle, Composition, Extension, Resource } from '@medplum/fhirtypes';
import { documentStatus } from '../../governance/domain/document.js';
import { DisputeError, DisputeErrorCode } from '../disputes.errors.js';

/** What a case seals: the whole record, some encounters (visits), or the encounters of a period. */
export type DisputeScope =
  | { kind: 'whole-record' }
  | { kind: 'encounters'; encounters: string[] }
  | { kind: 'date-range'; from: string; to: string };

export type DisputeTrigger = 'dispute' | 'public-incident';
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
  /** self, agent, spouse, parent, child, sibling, heir, other. */
  relationship: string;
  idDocument: { type: string; number: string };
  confirmed: true;
}

/** The hospital side: a practitioner who authenticated with their own token (never the officer alone). */
export interface HospitalWitness {
  id: string;
  practitioner: string;
  roles: readonly string[];
  confirmed: true;
}

const RELATIONSHIPS = ['self', 'agent', 'spouse', 'parent', 'child', 'sibling', 'heir', 'other'];
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const REFERENCE = /^Practitioner\/[A-Za-z0-9\-.]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Reads `POST /disputes`; every problem is named at once. */
export function parseDisputeRequest(body: unknown): DisputeRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const patient = typeof b.patient === 'string' ? b.patient.replace(/^Patient\//, '') : '';
  if (!ID.test(patient)) problems.push('patient: a Patient id (or Patient/<id>)');
  const trigger = b.trigger ?? 'dispute';
  if (trigger !== 'dispute' && trigger !== 'public-incident') problems.push('trigger: dispute or public-incident');
  const reason = typeof b.reason === 'string' ? b.reason.trim() : '';
  if (!reason) problems.push('reason: why the record is sealed');
  const team = Array.isArray(b.team) ? b.team : [];
  if (!team.every((t) => typeof t === 'string' && REFERENCE.test(t))) problems.push('team: Practitioner/<id> references');
  if (trigger === 'public-incident' && team.length === 0) problems.push('team: a public-incident case names the team that may read the sealed records (R-44)');
  const scope = parseScope(b.scope, problems);
  if (problems.length) throw new DisputeError(DisputeErrorCode.Invalid, `Not a valid dispute case: ${problems.join('; ')}`);
  return { patient, scope: scope as DisputeScope, trigger: trigger as DisputeTrigger, reason, team: [...new Set(team as string[])] };
}

function parseScope(value: unknown, problems: string[]): DisputeScope | undefined {
  const s = (value ?? { kind: 'whole-record' }) as Record<string, unknown>;
  if (s.kind === 'whole-record') return { kind: 'whole-record' };
  if (s.kind === 'encounters') {
    const list = Array.isArray(s.encounters) ? s.encounters.map((e) => (typeof e === 'string' ? e.replace(/^Encounter\//, '') : '')) : [];
    if (list.length === 0 || !list.every((e) => ID.test(e))) problems.push('scope.encounters: one or more Encounter ids');
    return { kind: 'encounters', encounters: [...new Set(list)] };
  }
  if (s.kind === 'date-range') {
    const from = String(s.from ?? '');
    const to = String(s.to ?? '');
    if (!DAY.test(from) || !DAY.test(to) || from > to) problems.push('scope.from / scope.to: dates YYYY-MM-DD, from ≤ to');
    return { kind: 'date-range', from, to };
  }
  problems.push('scope.kind: whole-record, encounters or date-range');
  return undefined;
}

/**
 * The patient side's confirmation, or what is missing from it (R-40: both sides present).
 * Returns the problems, empty when complete.
 */
export function patientWitnessProblems(value: unknown): string[] {
  const w = value as Record<string, unknown> | undefined;
  if (!w || typeof w !== 'object') return ['patientWitness: the patient side (name, relationship, idDocument {type, number}, confirmed: true)'];
  const problems: string[] = [];
  if (typeof w.name !== 'string' || !w.name.trim()) problems.push('patientWitness.name');
  if (typeof w.relationship !== 'string' || !RELATIONSHIPS.includes(w.relationship)) problems.push(`patientWitness.relationship (${RELATIONSHIPS.join(', ')})`);
  const doc = w.idDocument as Record<string, unknown> | undefined;
  if (!doc || typeof doc.type !== 'string' || !doc.type.trim() || typeof doc.number !== 'string' || !doc.number.trim()) problems.push('patientWitness.idDocument {type, number}');
  if (w.confirmed !== true) problems.push('patientWitness.confirmed: true (the patient side confirms the inventory)');
  return problems;
}

/** The patient side as kept: the ID number is kept whole (it identifies who was present), trimmed. */
export function patientWitness(value: unknown): PatientWitness {
  const w = value as { name: string; relationship: string; idDocument: { type: string; number: string } };
  return { name: w.name.trim(), relationship: w.relationship, idDocument: { type: w.idDocument.type.trim(), number: w.idDocument.number.trim() }, confirmed: true };
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
  return createHash('sha256').update(canonicalize(ordered), 'utf8').digest('hex');
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

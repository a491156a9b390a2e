import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeableConcept, Coding, DiagnosticReport, Resource } from '@medplum/fhirtypes';
import { packageRoot } from '../../common/package-root.js';
import { isDocument } from '../../copies/clinical-document.js';
import { referenceKey } from '../../copies/reference-key.js';
import { documentStatus, isSigned, SIGNED_STATUSES } from '../../policy/domain/document-status.js';
import type { DocumentType, DocumentTypes } from '../../policy/domain/document-types.js';
import { versionRef, type CopyCandidate } from './copy-production.js';

/**
 * The objective parts of a record as the structured resources a HIS sends, and when each
 * is complete: `fhir-profiles/chartwarden-copy-parts.json`, which a hospital extends
 * with its own entries (policy `copyRequests.parts`, tried first). A part is a document type
 * (`temperature-chart`, `orders`, `test-report`…), so a request's `scope.documentTypes` and the
 * R-31 objectivity apply to structured records as to documents.
 */

/** One entry: records of `resourceType` (with one of `category`, one of `code`, when given) are part `part`. */
export interface CopyPartEntry {
  /** A document type code (fhir-profiles/chartwarden-document-types.json). */
  part: string;
  resourceType: string;
  /** Any coding of the resource's `category` matching one of these (system and code). */
  category?: readonly Pick<Coding, 'system' | 'code'>[];
  /** Any coding of the resource's `code` matching one of these. */
  code?: readonly Pick<Coding, 'system' | 'code'>[];
  /** Statuses in which the record is complete and copied. */
  complete: readonly string[];
  /** Statuses in which it never took effect: left out, and said so. Any other status is pending. */
  void?: readonly string[];
  note?: string;
}

/** Reports an ancillary system signs and sends as DocumentReference: complete on their status. */
export interface ReportDocuments {
  types: readonly string[];
  complete: readonly string[];
  completeWithoutDocStatus: readonly string[];
}

/** The file's shape. */
export interface CopyPartsProfile {
  reportDocuments: ReportDocuments;
  parts: CopyPartEntry[];
}

/** Whether a record is copied now: complete, waiting (pending), or never in effect (void, left out). */
export type Completion = { state: 'complete' } | { state: 'pending' | 'void'; reason: string };

const shipped = new Map<string, CopyPartsProfile>();

/** The parts of the record a copy holds beside its documents, and the completeness of each record. */
export class CopyParts {
  private readonly entries: readonly CopyPartEntry[];
  private readonly reports: ReportDocuments;

  constructor(
    profile: CopyPartsProfile,
    /** A hospital's entries, tried before the shipped ones. */
    extra: readonly CopyPartEntry[] = [],
  ) {
    this.entries = [...extra, ...profile.parts];
    this.reports = profile.reportDocuments;
  }

  static fromProfiles(extra: readonly CopyPartEntry[] = [], dir = join(packageRoot(), 'fhir-profiles')): CopyParts {
    let profile = shipped.get(dir);
    if (!profile) {
      profile = JSON.parse(readFileSync(join(dir, 'chartwarden-copy-parts.json'), 'utf8')) as CopyPartsProfile;
      shipped.set(dir, profile);
    }
    return new CopyParts(profile, extra);
  }

  /** The resource types some entry names, sorted: what a copy reads beside the documents. */
  get resourceTypes(): string[] {
    return [...new Set(this.entries.map((e) => e.resourceType))].sort();
  }

  /** The parts named, for checking them against the document types. */
  get partCodes(): string[] {
    return [...new Set(this.entries.map((e) => e.part))];
  }

  /** The first entry the resource matches. */
  entryOf(resource: Resource): CopyPartEntry | undefined {
    const code = (resource as { code?: CodeableConcept }).code;
    return this.entries.find((e) => e.resourceType === resource.resourceType && matches(e.category, categoryOf(resource)) && matches(e.code, [code]));
  }

  /**
   * Whether a record of `part` is complete. Documents (Composition, DocumentReference)
   * are complete when signed, save reports an ancillary system signed and sent as
   * DocumentReference (`reportDocuments`), complete on their status; structured records by
   * their entry's statuses.
   */
  completion(resource: Resource, part: DocumentType): Completion {
    const status = documentStatus(resource);
    const entry = isDocument(resource) ? undefined : this.entryOf(resource);
    if (entry) {
      if (entry.complete.includes(status ?? '')) return { state: 'complete' };
      if (entry.void?.includes(status ?? '')) return { state: 'void', reason: `${resource.resourceType} ${status}: never took effect, not part of the record (R-31)` };
      return { state: 'pending', reason: `not completed (${status ?? 'no status'}): produced once ${entry.complete.join(', ')} (R-32)` };
    }
    if (resource.resourceType === 'DocumentReference' && this.reports.types.includes(part.code)) {
      const r = resource as { status?: string; docStatus?: string };
      const complete = r.docStatus === undefined ? this.reports.completeWithoutDocStatus.includes(r.status ?? '') : this.reports.complete.includes(r.docStatus);
      if (complete) return { state: 'complete' };
      return { state: 'pending', reason: `not completed (${r.docStatus ?? r.status ?? 'no status'}): a report is produced once final (R-32)` };
    }
    if (isSigned(resource)) return { state: 'complete' };
    const unsigned = SIGNED_STATUSES.includes(status ?? '') ? ', no legal attester' : '';
    return { state: 'pending', reason: `not completed (${status ?? 'no status'}${unsigned}): produced once signed (R-32, R-13)` };
  }

  /** Whether a record took effect: not entered in error, nor in a status its entry calls void. */
  inEffect(resource: Resource): boolean {
    const status = documentStatus(resource) ?? '';
    if (status === 'entered-in-error') return false;
    return !(isDocument(resource) ? undefined : this.entryOf(resource))?.void?.includes(status);
  }
}

/**
 * How a production classifies each candidate: a document by its document type, a structured
 * record by the part its entry names, and a result with no entry of its own by the part of the
 * report that names it — only a report the copy may hold: one the version rule allowed
 * (`judged`) and that took effect. A result of a refused report (a label, an R-44 withholding)
 * or of a void one is judged on its own, so it never reaches a copy through that report.
 */
export function partClassifier(
  parts: CopyParts,
  types: Pick<DocumentTypes, 'get' | 'classifyAll'>,
  candidates: readonly CopyCandidate[],
  judged: ReadonlyMap<string, string | undefined>,
): (resource: Resource) => DocumentType[] {
  const partOf = (r: Resource) => (isDocument(r) ? undefined : parts.entryOf(r)?.part);
  const allowed = (c: CopyCandidate) => {
    const pinned = versionRef(c.resource, c.version);
    return judged.has(pinned) && !judged.get(pinned) && parts.inEffect(c.resource);
  };
  const results = reportResults(candidates.filter(allowed).map((c) => c.resource), partOf);
  return (r) => {
    const code = partOf(r) ?? results.get(`${r.resourceType}/${r.id}`);
    const type = code ? types.get(code) : undefined;
    return type ? [type] : types.classifyAll(r);
  };
}

/**
 * The part of each Observation that a report among `candidates` names in `result`, keyed
 * `Observation/id`: a result with no part of its own (no category) belongs to its report's.
 * Pass only reports the copy may hold (`partClassifier`).
 */
export function reportResults(candidates: readonly Resource[], partOf: (resource: Resource) => string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  for (const r of candidates) {
    if (r.resourceType !== 'DiagnosticReport') continue;
    const part = partOf(r);
    if (!part) continue;
    for (const result of (r as DiagnosticReport).result ?? []) {
      const ref = referenceKey(result.reference);
      if (ref && !found.has(ref)) found.set(ref, part);
    }
  }
  return found;
}

function categoryOf(resource: Resource): (CodeableConcept | undefined)[] {
  const category = (resource as { category?: CodeableConcept | CodeableConcept[] }).category;
  return Array.isArray(category) ? category : [category];
}

function matches(wanted: readonly Pick<Coding, 'system' | 'code'>[] | undefined, concepts: readonly (CodeableConcept | undefined)[]): boolean {
  if (!wanted) return true;
  return concepts.some((c) => (c?.coding ?? []).some((coding) => wanted.some((w) => w.system === coding.system && w.code === coding.code)));
}

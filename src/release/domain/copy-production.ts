import type { Resource } from '@medplum/fhirtypes';
import type { DisclosedVersion } from '../../audit/domain/audit-entry.js';
import { documentStatus } from '../../policy/domain/document-status.js';
import { contentSha256 } from '../../common/content-hash.js';
import { isDocument } from '../../copies/clinical-document.js';
import type { DocumentType } from '../../policy/domain/document-types.js';
import type { Completion } from './copy-parts.js';
import type { CopyScope } from './copy-request.js';

/**
 * What a production copies (R-31…R-33), as pure rules: of the patient's governed documents and
 * structured records (the parts of `copy-parts.ts`) in scope, the objective, completed ones are
 * copied pinned to their versions; unfinished ones wait (pending); subjective, unclassified,
 * void or refused ones are left out with their reason. Nothing in scope is dropped unsaid.
 */

/** One copied version (R-32: pinned) and its hash; `documentType`: the document type or part it is copied as. */
export interface ManifestLine {
  type: string;
  id: string;
  version: number;
  sha256: string;
  documentType: string;
}

/** A document of the scope not copied: unfinished or not copyable for a requester. */
export interface LeftOut {
  ref: string;
  documentType?: string;
  reason: string;
}

/** A governed document of the patient, at the version the store holds now. */
export interface CopyCandidate {
  resource: Resource;
  version: number;
}

/** What a production holds: the manifest and its resources (same order), what waits, what is left out. */
export interface CopySelection {
  manifest: ManifestLine[];
  included: Resource[];
  pending: LeftOut[];
  excluded: LeftOut[];
}

/** What the selection is told: the request's scope, what earlier copies hold, and the version rule's verdicts. */
export interface SelectionContext {
  scope: CopyScope;
  /** `Type/id` of the documents earlier copies of the request hold: not copied again. */
  produced: ReadonlySet<string>;
  /** Per `versionRef`, why the version may not be copied (undefined: it may), judged before the production. */
  judged: ReadonlyMap<string, string | undefined>;
  /** The document types a resource is coded as (type and category), or for a structured record the part it is. */
  classify: (resource: Resource) => DocumentType[];
  /** Whether a record of a document type or part is complete: `CopyParts.completion`. */
  completion: (resource: Resource, type: DocumentType) => Completion;
}

/** Sorts the candidates into copied, pending and left out, in the candidates' order. */
export function selectForCopy(candidates: readonly CopyCandidate[], context: SelectionContext): CopySelection {
  const selection: CopySelection = { manifest: [], included: [], pending: [], excluded: [] };
  for (const c of candidates) {
    const ref = `${c.resource.resourceType}/${c.resource.id}`;
    if (context.produced.has(ref)) continue;
    // A document that appeared or changed since the checks was not judged at this version: left out, never copied unchecked.
    const pinned = versionRef(c.resource, c.version);
    if (!context.judged.has(pinned)) {
      const reason = `version ${c.version} was written while this copy was being made, after the access checks: produce again to copy it`;
      selection.excluded.push({ ref, reason });
      continue;
    }
    const refusal = context.judged.get(pinned);
    if (refusal) {
      selection.excluded.push({ ref, reason: refusal });
      continue;
    }
    const types = context.classify(c.resource);
    if (types.length === 0) {
      selection.excluded.push({ ref, reason: unclassified(c.resource) });
      continue;
    }
    if (context.scope.documentTypes && !types.some((t) => context.scope.documentTypes?.includes(t.code))) continue;
    // Coded as subjective anywhere (type or category), it is not copied, whatever else it is coded as.
    const subjective = types.find((t) => t.objectivity === 'subjective');
    if (subjective) {
      selection.excluded.push({ ref, documentType: subjective.code, reason: `${subjective.display} is subjective: not copied for requesters (R-31)` });
      continue;
    }
    const type = types[0];
    const status = documentStatus(c.resource);
    if (status === 'entered-in-error') continue;
    const completion = context.completion(c.resource, type);
    if (completion.state !== 'complete') {
      (completion.state === 'pending' ? selection.pending : selection.excluded).push({ ref, documentType: type.code, reason: completion.reason });
      continue;
    }
    const sha256 = contentSha256(c.resource);
    selection.manifest.push({ type: c.resource.resourceType, id: c.resource.id as string, version: c.version, sha256, documentType: type.code });
    selection.included.push(c.resource);
  }
  return selection;
}

/** Why a record in scope has no document type or part: not known to be objective, so not copied. */
function unclassified(resource: Resource): string {
  if (isDocument(resource)) {
    return 'document type not known: only documents known to be objective are copied (R-31)';
  }
  return `${resource.resourceType} of no objective part R-31 lists (fhir-profiles/chartwarden-copy-parts.json, policy copyRequests.parts): not copied for requesters (R-31)`;
}

/** Why a production copies nothing: what is pending, or that everything completed was copied already. */
export function nothingToCopy(requestId: string, selection: CopySelection, producedBefore: boolean): string {
  const why = selection.pending.length
    ? `; pending until signed or final (R-32): ${selection.pending.map((p) => p.ref).join(', ')}`
    : producedBefore
      ? ': everything completed was produced already'
      : ': no objective, completed document in scope';
  return `Nothing of copy request ${requestId} is ready to copy${why}`;
}

/** `Type/id/_history/v` of a candidate version: what the checks before a production judged. */
export function versionRef(resource: Resource, version: number | string): string {
  return `${resource.resourceType}/${resource.id}/_history/${version}`;
}

/** The versions a copy holds, as the audit trail names what was disclosed. */
export function disclosedOf(manifest: readonly Pick<ManifestLine, 'type' | 'id' | 'version'>[]): DisclosedVersion[] {
  return manifest.map((m) => ({ type: m.type, id: m.id, version: String(m.version) }));
}

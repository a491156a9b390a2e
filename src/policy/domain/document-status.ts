import type { Resource } from '@medplum/fhirtypes';

/**
 * The statuses of a clinical document as the rules read them: signed, closed to
 * signing, and the attestation that makes a status a signature. The policy's vocabulary, used by
 * governance (edit windows from signing, reasons for changes, `$sign`), release (only signed
 * versions are copied, R-32) and disputes (what a seal inventories, R-41) alike.
 */

/** Document statuses of a confirmed (signed) document: changing it needs a stated reason. */
export const SIGNED_STATUSES: readonly string[] = ['final', 'amended', 'corrected'];

/** Statuses after which a document is neither signed again nor waiting for a signature (signed, or withdrawn). */
export const CLOSED_STATUSES: readonly string[] = [...SIGNED_STATUSES, 'entered-in-error'];

/** A document's status: `docStatus` for a DocumentReference (its `status` is the reference's), else `status`. */
export function documentStatus(resource: Resource): string | undefined {
  const r = resource as { resourceType: string; status?: string; docStatus?: string };
  return r.resourceType === 'DocumentReference' ? r.docStatus : r.status;
}

/**
 * Whether a document is signed: final (or amended, corrected) and attested — a legal
 * attester on a Composition, an authenticator on a DocumentReference — as `$sign` and `$cosign`
 * write it, or as a HIS that signs records itself sends them. A status alone is not a signature.
 */
export function isSigned(resource: Resource): boolean {
  if (!SIGNED_STATUSES.includes(documentStatus(resource) ?? '')) return false;
  const r = resource as { resourceType: string; attester?: { mode?: string }[]; authenticator?: { reference?: string } };
  if (r.resourceType === 'DocumentReference') return Boolean(r.authenticator?.reference);
  if (r.resourceType === 'Composition') return (r.attester ?? []).some((a) => a.mode === 'legal');
  // Other governed types (a hospital may govern DiagnosticReport) carry no attestation element: final is signed.
  return true;
}

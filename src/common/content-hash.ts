import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { canonicalJson } from './canonical-json.js';

/**
 * SHA-256 (hex) of a stored version's RFC 8785 canonical JSON: the one fingerprint of a version
 * that the edit ledger records, a sealed inventory lists and a certified copy's
 * manifest carries, so each can be checked against the others and against the store.
 */
export function contentSha256(resource: Resource): string {
  return createHash('sha256').update(canonicalJson(resource), 'utf8').digest('hex');
}

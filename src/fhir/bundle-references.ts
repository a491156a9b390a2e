import type { Resource } from '@medplum/fhirtypes';
import { copyJson } from './json-copy.js';

/*
 * A transaction's `urn:uuid` references, rewritten to the ids the server assigns
 * (https://hl7.org/fhir/R4/http.html#trules). An entry's resource is the request's own object:
 * one that names an entry is rewritten on a copy, the others are passed on as they are (each
 * write copies what it takes), so a Bundle of 500 vital signs naming their patient by id is
 * not copied here at all (issue #13).
 */

/**
 * `resource` with every `reference` that names a transaction entry's `urn:uuid` replaced by the
 * entry's real `Type/id`: a deep copy when one does (the request's own object stays as it was
 * sent), else `resource` itself.
 */
export function withReferencesRewritten(resource: Resource, targets: Map<string, string>): Resource {
  if (!namesTarget(resource, targets)) return resource;
  const copy = copyJson(resource);
  rewriteReferences(copy, targets);
  return copy;
}

/** Whether a `reference` in `node` names one of `targets` (what `rewriteReferences` would replace). */
function namesTarget(node: unknown, targets: Map<string, string>): boolean {
  if (targets.size === 0 || !node || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some((item) => namesTarget(item, targets));
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'reference' && typeof v === 'string' && targets.has(v)) return true;
    if (v && typeof v === 'object' && namesTarget(v, targets)) return true;
  }
  return false;
}

/** Replaces every `reference` that names a transaction entry's `urn:uuid` with the entry's real `Type/id`, in place. */
export function rewriteReferences(node: unknown, targets: Map<string, string>): void {
  if (targets.size === 0 || !node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, targets);
    return;
  }
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'reference' && typeof v === 'string' && targets.has(v)) o[k] = targets.get(v);
    else if (v && typeof v === 'object') rewriteReferences(v, targets);
  }
}

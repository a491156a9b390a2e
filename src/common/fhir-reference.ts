/** The record a FHIR reference names: its type, its id and, for a versioned reference, the version. */
export interface FhirReference {
  type: string;
  id: string;
  version?: string;
}

/** A FHIR id (R4 datatypes.html#id): what a store accepts as an id, and all that may go into a URL as one. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `Type/id`, optionally `/_history/version`, at the end of the reference (R4 references.html#literal; ids per datatypes.html#id). */
const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([^/]+))?$/;

/**
 * The record a literal reference names, however the sender wrote it — relative
 * (`Observation/1`), absolute (`http://his/fhir/Observation/1`) or versioned
 * (`…/_history/2`) — or undefined for one that names no stored record: a contained resource
 * (`#p1`), a placeholder (`urn:uuid:…`, `urn:oid:…`), or text that is no reference. One reading
 * for the search index (`referenceOf`), a search's reference values and a copy's
 * cross-references, so a copy finds a report's results, an administration's order or a stay
 * the way a search finds them.
 */
export function parseReference(reference: string | undefined): FhirReference | undefined {
  if (!reference || reference.startsWith('#') || reference.startsWith('urn:')) return undefined;
  const m = LITERAL.exec(reference);
  if (!m) return undefined;
  return m[3] === undefined ? { type: m[1], id: m[2] } : { type: m[1], id: m[2], version: m[3] };
}

import type { SearchIndex } from '../search/search-index.extractor.js';

/*
 * A resource's links to patients, on its own row (`fhir_resource.patient_links`, issue #13,
 * decision 0018): one `<param>|<patient id>` per reference index row whose target is a Patient.
 * A patient's page (`Observation?patient=X`) judged its `patient=` criterion with a probe of
 * each row's reference rows, four index tuples per row: most of the cost of a default total
 * (up to 500 rows) and of `_total=accurate`. The row now answers it itself.
 *
 * Exact by construction: the entries are the reference rows' own (param, id) pairs, written in
 * the statement that writes those rows, from the same `SearchIndex`. A search parameter's code
 * never contains `|`, so `<param>|<id>` names one pair only, whatever the id holds.
 */

/** The entry for a link through `param` to Patient `id`. */
export function patientLink(param: string, id: string): string {
  return `${param}|${id}`;
}

/** The version's links to patients, as its row keeps them: sorted, each once. */
export function patientLinks(index: SearchIndex): string[] {
  const links = new Set(index.references.filter((r) => r.targetType === 'Patient').map((r) => patientLink(r.param, r.targetId)));
  return [...links].sort();
}

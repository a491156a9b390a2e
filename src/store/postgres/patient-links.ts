import type { SearchIndex } from '../search/search-index.extractor.js';
import { INDEX_TABLES } from './index-tables.js';

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

/**
 * The same links read from the reference rows of the resource `type`/`id` (SQL), for a
 * statement that stands a resource's index row in for its row (`TOKEN_ROW_AS_RESOURCE`). Its
 * own rows by primary key, fenced; the target compared `COLLATE "C"` so that the target index,
 * whose Patient entries are every link to any patient, cannot serve it.
 */
export function patientLinksSql(type: string, id: string): string {
  const { table } = INDEX_TABLES.references;
  return `ARRAY(SELECT l.param || '|' || l.target_id FROM (SELECT * FROM ${table} l0 WHERE l0.resource_type = ${type} AND l0.resource_id = ${id} OFFSET 0) l
    WHERE l.target_type COLLATE "C" = 'Patient')`;
}

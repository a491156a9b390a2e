import type { Resource } from '@medplum/fhirtypes';
import type { AccessFactOptions, AccessFacts } from '../../src/store/access-facts.js';
import type { FhirStore } from '../../src/store/fhir-store.port.js';
import { keyOf } from './fhir-builders.js';

/**
 * The facts a single decision reads of a record (`FhirStore.accessFacts`), read once per record
 * while the returned function lives. The search oracles judge every match alone, for several
 * staff and queries; the facts belong to the record, not to whoever asks, so reading them again
 * for each (18,400 reads of ~1,150 records' facts in one test) only cost CI minutes. Make one per
 * test, or per check where the test changes records between checks.
 */
export function singleFacts(store: Pick<FhirStore, 'accessFacts'>, options: AccessFactOptions = { careWindowDays: 30 }): (r: Resource) => Promise<AccessFacts> {
  const read = new Map<string, Promise<AccessFacts>>();
  return (r) => {
    const key = keyOf(r);
    let facts = read.get(key);
    if (!facts) read.set(key, (facts = store.accessFacts(r.resourceType, r.id as string, options)));
    return facts;
  };
}

import { FhirResourceEntity, FhirResourceVersionEntity } from './fhir-resource.entity.js';
import { SearchCompositeEntity, SearchNumberEntity, SearchQuantityEntity } from './search-index-kinds.entity.js';
import { SearchDateEntity, SearchReferenceEntity, SearchStringEntity, SearchTokenEntity } from './search-index.entity.js';

/** The embedded store's tables, for the DataSource. */
export const FHIR_STORE_ENTITIES = [
  FhirResourceEntity,
  FhirResourceVersionEntity,
  SearchTokenEntity,
  SearchStringEntity,
  SearchReferenceEntity,
  SearchDateEntity,
  SearchNumberEntity,
  SearchQuantityEntity,
  SearchCompositeEntity,
];

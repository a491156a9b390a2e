import type { Resource } from '@medplum/fhirtypes';

/**
 * Whether a record is a clinical document (Composition, DocumentReference): classified by its
 * document type and printed as written, where a structured record (an Observation, an order,
 * a charge) is classified by the copy part its entry names and printed on that part's sheet.
 */
export function isDocument(resource: Pick<Resource, 'resourceType'>): boolean {
  return resource.resourceType === 'Composition' || resource.resourceType === 'DocumentReference';
}

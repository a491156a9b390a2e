import { encounterIdOf, referenceKey } from './reference-key.js';

describe('a copy reads references as the search index does', () => {
  it('referenceKey: `Type/id` of the relative, absolute and versioned forms; nothing for a contained resource or a placeholder', () => {
    expect(['Observation/o1', 'http://his.example/fhir/Observation/o1', 'Observation/o1/_history/4'].map(referenceKey)).toEqual(['Observation/o1', 'Observation/o1', 'Observation/o1']);
    expect(['#o1', 'urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427', undefined].map(referenceKey)).toEqual([undefined, undefined, undefined]);
  });

  it('encounterIdOf: the id of the stay a record names, in any of those forms, and nothing for another type', () => {
    expect(['Encounter/e1', 'https://his.example/fhir/Encounter/e1/_history/2'].map(encounterIdOf)).toEqual(['e1', 'e1']);
    expect(['EpisodeOfCare/e1', 'Patient/Encounter', '#e1', undefined].map(encounterIdOf)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

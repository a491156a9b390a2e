/* eslint-disable no-console -- an example program: it prints what it did */
// The HIS side with fhir-kit-client (docs/guides/his-integration.md). Run by his-integration.sh:
//   BASE=http://localhost:8080 HIS=<token> PATIENT=<id> node docs/walkthroughs/his-client.mjs
// >>> fhir-kit-client
import { Client } from 'fhir-kit-client';

const client = new Client({ baseUrl: `${process.env.BASE}/fhir`, bearerToken: process.env.HIS });

// Read, and the HTTP details fhir-kit-client keeps aside (status, ETag).
const patient = await client.read({ resourceType: 'Patient', id: process.env.PATIENT });
const { response } = Client.httpFor(patient);
console.log('read', response.status, response.headers.get('etag'), patient.name[0].family);

// Search: a Bundle, filtered by the policy.
const found = await client.search({ resourceType: 'Patient', searchParams: { _id: process.env.PATIENT, _total: 'accurate' } });
console.log('search total', found.total);

// Create an Observation for the patient.
const observation = await client.create({
  resourceType: 'Observation',
  body: {
    resourceType: 'Observation', status: 'final', code: { text: '心率' },
    subject: { reference: `Patient/${process.env.PATIENT}` }, valueQuantity: { value: 72, unit: '/min' },
  },
});
console.log('created Observation', observation.id, 'version', observation.meta.versionId);

// Errors come back as an OperationOutcome; ChartWarden's own code is in issue[0].details.coding.
try {
  await client.delete({ resourceType: 'Observation', id: observation.id });
} catch (error) {
  const outcome = error.response.data;
  console.log('delete', error.response.status, outcome.issue[0].code, outcome.issue[0].details.coding[0].code);
}
// <<< fhir-kit-client

import { startFhirPeer } from '../test/support/fhir-peer.js';

/**
 * The upstream FHIR server of the remote-store benchmark (issue #17), in its own process so its
 * CPU is measured apart from ChartWarden's: the test peer (`test/support/fhir-peer.ts`, Medplum's
 * `FhirRouter` over a `MemoryRepository` behind `node:http`) on 127.0.0.1 and a random port. It
 * prints `FHIR peer listening on <base URL>` when ready and stops on SIGTERM or SIGINT.
 *
 * The peer keeps every version in memory and a list of the requests it received: it is a test
 * double that speaks FHIR over HTTP, not a production server, so the figures measured against it
 * say what ChartWarden adds in front of a fast upstream, not what a HAPI or Medplum deployment does.
 */
const peer = await startFhirPeer();
// The peer lists every request it receives, for tests to read; nobody reads them here, so the list
// is emptied each second rather than grown by every request of every run.
setInterval(() => void peer.requests.splice(0), 1000).unref();
console.log(`FHIR peer listening on ${peer.baseUrl}`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void peer.close().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(`peer-server: close failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import type { Bundle, Observation, Resource } from '@medplum/fhirtypes';
import { clinicalBuilders, putDepartments } from '../support/fhir-builders.js';
import { fhirApi, seedAs } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Property-based fuzzing of the FHIR endpoint (issue #12): random search parameters, raw
 * headers and mutated bodies, sent by dr-neuro (attending in neuro, on patient B's care team
 * only) against a hospital where patient A (cardio) carries a marker in every resource.
 *
 * Whatever is sent, three properties hold:
 * - no answer is a 5xx (bad input is the caller's error, never the server's);
 * - no answer carries anything of patient A (R-03: no result the caller may not read);
 * - a refused write stores nothing (R-51: no partial write).
 *
 * The inputs reach for what broke before: NUL bytes, lone surrogates and invalid UTF-8 in
 * percent-encoding, prototype keys (`__proto__`, `constructor`), deep nesting, long OR lists,
 * unknown modifiers and parameters. Runs are seeded by fast-check and reported on failure
 * (`seed` and `path`), so a failure replays exactly.
 */

const run = randomUUID();
const ID_SYSTEM = `urn:chartwarden-e2e:fuzz:${run}`;
const SECRET_A = `SECRET-FUZZ-A-${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:fuzz-code:${run}`;

/** Answers that mean "the server failed", never acceptable whatever the input. */
const isServerError = (status: number) => status >= 500;

// ---------------------------------------------------------------- raw HTTP (bytes fetch would refuse to send)

interface RawResult {
  status: number;
  text: string;
}

/**
 * One HTTP/1.1 exchange over a socket, writing `head` and `body` as given: header bytes that
 * `fetch` and `node:http` refuse to send (NUL, control characters, lone surrogates encoded as
 * raw bytes) reach the server as an attacker would send them.
 */
function rawRequest(port: number, head: Buffer, body: Buffer = Buffer.alloc(0)): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error('raw request timed out')));
    // Written, not ended: a half-closed socket may be dropped before the answer; `Connection: close` ends the exchange.
    socket.on('connect', () => socket.write(Buffer.concat([head, body])));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => (chunks.length ? finish() : reject(e)));
    socket.on('close', finish);
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      const all = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      if (!m) return reject(new Error(`no HTTP status line in ${JSON.stringify(all.slice(0, 200))}`));
      resolve({ status: Number(m[1]), text: Buffer.from(all.slice(all.indexOf('\r\n\r\n') + 4), 'latin1').toString('utf8') });
    }
  });
}

// ---------------------------------------------------------------- arbitraries

/** Text that stresses parsers: ordinary, Chinese, NUL, lone surrogates, separators, prototype words. */
const nastyText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', '患者\u0000', '__proto__', 'constructor', 'toString', 'prototype', '', ' ', ',', '|', '$', '\\,', '%', '%00'),
  fc.constantFrom('王小明', 'gt2020-01-01', 'le2030', 'http://loinc.org|8867-4', `${CODE_SYSTEM}|shared`, 'Patient/x', 'a'.repeat(3000)),
);

/** Percent-encodes every byte of `text` as UTF-8, except lone surrogates, which are sent as the raw (invalid) CESU bytes an attacker would send. */
function percentEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    const bytes = cp >= 0xd800 && cp <= 0xdfff ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)] : [...Buffer.from(ch, 'utf8')];
    out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  return out;
}

const SEARCH_TYPES = ['Observation', 'Patient', 'Encounter', 'Composition', 'DocumentReference', 'Condition'];
const PARAM_NAMES = [
  'patient', 'subject', 'code', 'date', 'status', 'identifier', 'encounter', '_id', '_lastUpdated', '_count', '_offset', '_sort',
  '_total', '_summary', '_include', '_revinclude', '_elements', '_has:Observation:patient:code', 'subject:Patient.name', 'name',
  'family', 'birthdate', 'gender', 'type', 'category', 'value-quantity', '_format', '_since', '__proto__', 'constructor', 'code:not',
  'code:text', 'code:missing', 'name:exact', 'name:contains', 'date:above', '_security', '_tag', 'patient:Patient', 'x-unknown',
];

/** One search: a type and up to 12 parameters, some repeated, some with long OR lists. */
const searchArb = fc.record({
  type: fc.constantFrom(...SEARCH_TYPES),
  params: fc.array(
    fc.record({
      name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PARAM_NAMES) }, { weight: 1, arbitrary: nastyText }),
      values: fc.oneof(
        { weight: 4, arbitrary: fc.array(nastyText, { minLength: 1, maxLength: 3 }) },
        { weight: 1, arbitrary: fc.array(fc.constantFrom<string>('shared', 'c1', 'c2'), { minLength: 90, maxLength: 200 }) },
      ),
    }),
    { maxLength: 12 },
  ),
});

/** A JSON value to graft into a resource: anything JSON can hold, prototype keys, NULs, deep nests. */
const graftArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nastyText,
  fc.constantFrom<unknown>(
    { __proto__: { admin: true } },
    JSON.parse('{"__proto__":{"polluted":true}}'),
    { constructor: { prototype: { polluted: true } } },
    { reference: 'Patient/placeholder-a' },
    [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }],
    'robot',
  ),
  fc.integer({ min: 20, max: 3000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown),
);

const GRAFT_KEYS = ['status', 'subject', 'code', 'valueQuantity', 'note', 'meta', 'extension', 'id', 'resourceType', 'encounter', '__proto__', 'constructor', 'toString', 'performer', 'contained', 'valueString', 'effectiveDateTime', 'category'];

// ---------------------------------------------------------------- FHIR builders

const build = clinicalBuilders({ identifier: ID_SYSTEM, code: CODE_SYSTEM, family: 'Fuzz' });
const patientResource = build.patient;
const encounterResource = build.encounter;
const observationResource = (patient: string, encounter: string, value: string, marker: string): Observation =>
  build.observation({ patient, encounter, code: 'shared', identifier: value, note: `${marker} observation` });

describe('R-03 R-51 fuzzing the FHIR endpoint: no 5xx, no leak, nothing stored on refusal (e2e, fast-check)', () => {
  let server: TestServer;
  let port: number;
  let his: string;
  let drNeuro: string;
  const A = { patient: '', encounter: '', obs: '' };
  const B = { patient: '', encounter: '', obs: '' };

  const fhir = fhirApi(() => server.fhirBase);
  const seed = async (resource: Resource): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;
  /** How many Observations the HIS finds with `value` as identifier: proves what a refused write did not store. */
  const storedCount = async (value: string): Promise<number | undefined> => {
    const res = await fhir<Bundle>(his, 'GET', `Observation?identifier=${encodeURIComponent(`${ID_SYSTEM}|${value}`)}&_summary=count`);
    expect(res.status).toBe(200);
    return res.body.total;
  };
  /** Nothing of patient A: not its content (the marker), not its patient id (a refusal may echo the id the caller asked for). */
  const expectNoLeak = (text: string) => {
    expect(text).not.toContain(SECRET_A);
    expect(text).not.toContain(A.patient);
  };

  beforeAll(async () => {
    server = await startTestServer();
    port = Number(new URL(server.fhirBase).port);
    his = await server.token();
    drNeuro = await server.token({ sub: 'dr-neuro-fuzz', roles: ['attending'], department: 'neuro', fhirUser: 'Practitioner/dr-neuro-fuzz' });
    await putDepartments(fhir, his, [
      ['cardio', 'Cardiology'],
      ['neuro', 'Neurology'],
    ]);
    A.patient = await seed(patientResource('A', SECRET_A));
    A.encounter = await seed(encounterResource(A.patient, 'cardio', 'Practitioner/dr-cardio-fuzz', SECRET_A));
    A.obs = await seed(observationResource(A.patient, A.encounter, 'a-obs', SECRET_A));
    B.patient = await seed(patientResource('B', 'plain'));
    B.encounter = await seed(encounterResource(B.patient, 'neuro', 'Practitioner/dr-neuro-fuzz', 'plain'));
    B.obs = await seed(observationResource(B.patient, B.encounter, 'b-obs', 'plain'));
  }, 60_000);
  afterAll(() => server?.close());

  it('R-03: the seed is what the fuzzing assumes: dr-neuro reads B\'s Observation and is refused A\'s (positive control)', async () => {
    const own = await fhir<Observation>(drNeuro, 'GET', `Observation/${B.obs}`);
    expect(own.status).toBe(200);
    expect(own.body.id).toBe(B.obs);
    const other = await fhir(drNeuro, 'GET', `Observation/${A.obs}`);
    expect(other.status).toBe(403);
    expectNoLeak(other.text);
    // The marker check can fail: the HIS, who may read A, gets it.
    const hisRead = await fhir<Observation>(his, 'GET', `Observation/${A.obs}`);
    expect(hisRead.text).toContain(SECRET_A);
  });

  it('R-03: random searches (parameters, modifiers, OR lists, NUL, surrogates, prototype names) never answer 5xx and never return A', async () => {
    await fc.assert(
      fc.asyncProperty(searchArb, async ({ type, params }) => {
        const query = params.map((p) => `${percentEncode(p.name)}=${p.values.map(percentEncode).join(',')}`).join('&');
        const res = await fhir(drNeuro, 'GET', `${type}?${query}`);
        expect({ status: res.status, isServerError: isServerError(res.status) }).toEqual({ status: res.status, isServerError: false });
        if (res.status >= 400) expect((res.body as Resource | undefined)?.resourceType).toBe('OperationOutcome');
        expectNoLeak(res.text);
      }),
      { numRuns: 300 },
    );
  }, 180_000);

  it('R-03: random paths and ids (history, vread, operations, encoded bytes) never answer 5xx and never return A', async () => {
    const segment = fc.oneof(nastyText.map(percentEncode), fc.constantFrom('_history', '$everything', '$changes', '$print', '_search', '1', '2', B.obs || 'b', 'Observation', 'Patient'));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SEARCH_TYPES), fc.array(segment, { minLength: 1, maxLength: 4 }), async (type, segments) => {
        const res = await fhir(drNeuro, 'GET', `${type}/${segments.join('/')}`);
        expect({ status: res.status, isServerError: isServerError(res.status) }).toEqual({ status: res.status, isServerError: false });
        expectNoLeak(res.text);
      }),
      { numRuns: 200 },
    );
  }, 180_000);

  it('R-51: random raw headers (NUL, control bytes, invalid UTF-8, huge values, FHIR headers with garbage) never answer 5xx', async () => {
    const headerName = fc.constantFrom('X-Edit-Reason', 'If-None-Exist', 'If-Match', 'Prefer', 'Accept', 'Content-Type', 'X-Break-Glass-Reason', 'Category', 'X-Forwarded-For', 'X-Custom');
    const headerValue = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a))),
      nastyText.map((t) => Buffer.from(percentEncode(t))),
      fc.integer({ min: 1000, max: 40_000 }).map((n) => Buffer.from('x'.repeat(n))),
      fc.constantFrom(Buffer.from('identifier=x%00'), Buffer.from('W/"\u0000"'), Buffer.from([0xed, 0xa0, 0x80])),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST'), fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }), async (method, headers) => {
        const body = method === 'POST' ? Buffer.from(JSON.stringify(observationResource(B.patient, B.encounter, `hdr-${randomUUID()}`, 'plain'))) : Buffer.alloc(0);
        const path = method === 'POST' ? '/fhir/Observation' : `/fhir/Observation?patient=${B.patient}`;
        const head = Buffer.concat([
          Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${drNeuro}\r\nConnection: close\r\n`),
          ...(method === 'POST' ? [Buffer.from(`Content-Type: application/fhir+json\r\nContent-Length: ${body.length}\r\n`)] : []),
          ...headers.map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `), value, Buffer.from('\r\n')])),
          Buffer.from('\r\n'),
        ]);
        const res = await rawRequest(port, head, body);
        expect({ status: res.status, isServerError: isServerError(res.status) }).toEqual({ status: res.status, isServerError: false });
        expectNoLeak(res.text);
      }),
      { numRuns: 200 },
    );
  }, 180_000);

  it('R-51: random mutations of a valid Observation (create and update) never answer 5xx, never return A, and store nothing when refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'PUT'),
        fc.array(fc.tuple(fc.constantFrom(...GRAFT_KEYS), graftArb), { minLength: 1, maxLength: 3 }),
        async (method, grafts) => {
          const marker = `mut-${randomUUID()}`;
          const base = observationResource(B.patient, B.encounter, marker, 'plain') as unknown as Record<string, unknown>;
          const id = method === 'PUT' ? `fuzz-${randomUUID()}` : undefined;
          if (id) base.id = id;
          for (const [key, value] of grafts) {
            const v = JSON.stringify(value ?? null).replaceAll('placeholder-a', A.patient);
            // Defined as an own property even for `__proto__`, as JSON.parse would: the bytes the attacker sends.
            Object.defineProperty(base, key, { value: JSON.parse(v) as unknown, enumerable: true, configurable: true, writable: true });
          }
          // The identifier that tells whether anything was stored is kept, whatever the grafts did.
          base.identifier = [{ system: ID_SYSTEM, value: marker }];
          const res = await fhir<Resource>(drNeuro, method, method === 'PUT' ? `Observation/${id}` : 'Observation', JSON.stringify(base));
          expect({ status: res.status, isServerError: isServerError(res.status) }).toEqual({ status: res.status, isServerError: false });
          // A's id may be echoed from the caller's own body; A's content never.
          expect(res.text).not.toContain(SECRET_A);
          if (res.status >= 400) {
            expect(res.body?.resourceType).toBe('OperationOutcome');
            expect(await storedCount(marker)).toBe(0);
          } else {
            expect([200, 201]).toContain(res.status);
            expect(await storedCount(marker)).toBe(1);
          }
        },
      ),
      { numRuns: 200 },
    );
  }, 240_000);

  it('R-03: after the fuzzing, A\'s Observation is unchanged (version 1) and dr-neuro is still refused it', async () => {
    const current = await fhir<Observation>(his, 'GET', `Observation/${A.obs}`);
    expect(current.status).toBe(200);
    expect(current.body.meta?.versionId).toBe('1');
    const refused = await fhir(drNeuro, 'GET', `Observation/${A.obs}`);
    expect(refused.status).toBe(403);
    expectNoLeak(refused.text);
  });
});

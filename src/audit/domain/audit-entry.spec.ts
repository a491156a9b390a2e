import { createHash } from 'node:crypto';
import { canonicalContent, chainHash, chainOf, GENESIS, hashedText, type AuditEntry } from './audit-entry.js';
import { interactionOf } from './interaction.js';

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  recorded: '2026-11-29T01:02:03.456Z',
  requestId: 'req-1',
  action: 'R',
  subtype: 'read',
  outcome: 0,
  status: 200,
  agent: { id: 'dr-wang', roles: ['attending'] },
  entity: { type: 'Patient', id: 'p1', version: '3' },
  patient: 'p1',
  method: 'GET',
  path: '/fhir/Patient/p1',
  ...over,
});

describe('audit chain primitives (R-21)', () => {
  it('R-21: the content is RFC 8785 canonical JSON: key order does not change it, any value does', () => {
    const a = entry();
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as AuditEntry;
    expect(canonicalContent(reordered)).toBe(canonicalContent(a));
    expect(canonicalContent(a)).toBe(
      '{"action":"R","agent":{"id":"dr-wang","roles":["attending"]},"entity":{"id":"p1","type":"Patient","version":"3"},"method":"GET","outcome":0,' +
        '"path":"/fhir/Patient/p1","patient":"p1","recorded":"2026-11-29T01:02:03.456Z","requestId":"req-1","status":200,"subtype":"read"}',
    );
    expect(canonicalContent(entry({ patient: 'p2' }))).not.toBe(canonicalContent(a));
  });

  it('R-21: each hash is SHA-256 of the previous hash followed by the UTF-8 content (Chinese text included)', () => {
    const content = canonicalContent(entry({ agent: { id: '王医生', roles: ['attending'] } }));
    const expected = createHash('sha256').update(Buffer.concat([GENESIS, Buffer.from(content, 'utf8')])).digest();
    expect(chainHash(GENESIS, content).equals(expected)).toBe(true);
    const second = chainHash(expected, content);
    expect(second.equals(expected)).toBe(false);
    expect(second).toHaveLength(32);
  });

  it('R-21: the hashed text is the content, then the searchable columns: a column alone changes it', () => {
    const a = entry();
    expect(hashedText(a)).toBe(canonicalContent(a) + `\x1freq-1\x1f${Date.parse('2026-11-29T01:02:03.456Z')}\x1fdr-wang\x1fp1\x1fR\x1fread\x1f0\x1fPatient\x1fp1`);
    expect(hashedText({ ...a, patient: undefined, agent: { roles: [] }, entity: undefined }).endsWith('\x1f\x1e\x1f\x1e\x1fR\x1fread\x1f0\x1f\x1e\x1f\x1e')).toBe(true);
  });

  it('R-21: a request always joins the same chain, and requests spread over every chain', () => {
    expect(chainOf('req-1', 16)).toBe(chainOf('req-1', 16));
    const used = new Set(Array.from({ length: 2000 }, (_, i) => chainOf(`req-${i}`, 16)));
    expect([...used].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16000; i++) counts[chainOf(`r${i}`, 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });

  it('R-21: the chain is SHA-256 of the request id, its first 32 bits mod the chains: the assignment every stored entry was made with', () => {
    for (const id of ['req-1', 'a1b2c3d4-0000-4000-8000-000000000000', '病历-请求-7', 'embedded:x'])
      for (const chains of [1, 16, 24]) expect(chainOf(id, chains)).toBe(createHash('sha256').update(id).digest().readUInt32BE(0) % chains);
  });
});

describe('interactionOf: what a request is, from method and path (R-20, R-22 BALP)', () => {
  it.each([
    ['GET', '/fhir/Patient/p1', { action: 'R', subtype: 'read', entity: { type: 'Patient', id: 'p1' } }],
    ['GET', '/fhir/Patient/p1/_history/2', { action: 'R', subtype: 'vread', entity: { type: 'Patient', id: 'p1', version: '2' } }],
    ['GET', '/fhir/Observation', { action: 'E', subtype: 'search-type', entity: { type: 'Observation' } }],
    ['POST', '/fhir/Observation/_search', { action: 'E', subtype: 'search-type', entity: { type: 'Observation' } }],
    ['POST', '/fhir/Observation', { action: 'C', subtype: 'create', lifecycle: 'originate' }],
    ['PUT', '/fhir/Observation/o1', { action: 'U', subtype: 'update', entity: { type: 'Observation', id: 'o1' } }],
    ['DELETE', '/fhir/Observation/o1', { action: 'D', subtype: 'delete' }],
    ['GET', '/fhir/Patient/p1/_history', { action: 'R', subtype: 'history-instance' }],
    ['GET', '/fhir/Patient/_history', { action: 'R', subtype: 'history-type' }],
    ['GET', '/fhir/Patient/p1/$everything', { action: 'E', subtype: 'everything', entity: { type: 'Patient', id: 'p1' } }],
    ['POST', '/fhir', { action: 'E', subtype: 'transaction', entity: { type: 'Bundle' } }],
    ['POST', '/access/grants', { action: 'C', subtype: 'grant-request', entity: { type: 'AccessGrant' } }],
    ['POST', '/access/grants/g1/approve', { action: 'U', subtype: 'grant-approve', entity: { type: 'AccessGrant', id: 'g1' } }],
    ['POST', '/access/break-glass/b1/review', { action: 'U', subtype: 'break-glass-review', entity: { type: 'BreakGlass', id: 'b1' } }],
    ['GET', '/audit/access-report', { action: 'E', subtype: 'access-report' }],
    ['GET', '/api/v1/fhir/Patient/p1', { action: 'R', subtype: 'read', entity: { type: 'Patient', id: 'p1' } }],
  ])('R-22: %s %s', (method, path, expected) => {
    expect(interactionOf(method, path)).toMatchObject(expected);
  });

  // Express routes a path's words whatever their case (a host on Express): the trail names what ran.
  it.each([
    ['GET', '/FHIR/Patient/P1', { action: 'R', subtype: 'read', lifecycle: 'access', entity: { type: 'Patient', id: 'P1' } }],
    ['GET', '/Fhir/Patient/p1/$EVERYTHING', { action: 'E', subtype: 'everything', lifecycle: 'disclose', entity: { type: 'Patient', id: 'p1' } }],
    ['GET', '/fhir/Composition/c1/$Print', { action: 'R', subtype: 'print', lifecycle: 'disclose', entity: { type: 'Composition', id: 'c1' } }],
    ['GET', '/fhir/Patient/p1/_HISTORY/V2', { action: 'R', subtype: 'vread', entity: { type: 'Patient', id: 'p1', version: 'V2' } }],
    ['POST', '/FHIR/Observation/_Search', { action: 'E', subtype: 'search-type', entity: { type: 'Observation' } }],
    ['POST', '/Disputes/D1/SEAL', { action: 'U', subtype: 'dispute-seal', lifecycle: 'hold', entity: { type: 'Dispute', id: 'D1' } }],
    ['POST', '/COPY-REQUESTS/r1/Deliver', { action: 'U', subtype: 'copy-deliver', lifecycle: 'disclose', entity: { type: 'CopyRequest', id: 'r1' } }],
    ['POST', '/Access/Grants/G1/Approve', { action: 'U', subtype: 'grant-approve', entity: { type: 'AccessGrant', id: 'G1' } }],
    ['GET', '/AUDIT/Access-Report', { action: 'E', subtype: 'access-report' }],
  ])('R-20, R-22: %s %s is recorded as the interaction it ran, types and ids as sent', (method, path, expected) => {
    expect(interactionOf(method, path)).toMatchObject(expected);
  });

  it('R-20: the public CapabilityStatement is not recorded; unknown paths are recorded as plain requests', () => {
    expect(interactionOf('GET', '/fhir/metadata')).toBeUndefined();
    expect(interactionOf('GET', '/fhir/not-a-type/x')).toEqual({ action: 'E', subtype: 'http-request' });
  });
});

import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Composition, DocumentReference, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { CliFailure } from '../../src/cli/cli.js';
import { backup, restoreDrill } from '../../src/cli/backup.js';
import { contentSha256 } from '../../src/common/content-hash.js';
import { ledgerHash, type LedgerEntry } from '../../src/governance/domain/ledger.js';
import { verifyLedger } from '../../src/cli/offline-checks.js';
import type { LedgerBreak } from '../../src/governance/ledger-verifier.js';
import { httpRequest } from '../support/http.js';
import { startTestServer } from '../support/test-app.js';
import { asReplica, runCliOn, sql, urlOf } from '../support/database-admin.js';
import type { LedgerRow } from '../support/database-rows.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The edit ledger's integrity on databases made for this file alone (rows are tampered with
 * here, so never on the run's shared database):
 * - R-17: the database refuses to change or remove ledger entries, even for a superuser;
 * - R-12 / R-17: what a superuser does with the triggers off is found by `verifyLedger` and
 *   `chartwarden ledger verify`, naming the document, the version and the problem;
 * - R-50: a restore drill verifies the ledger of the backup it restores.
 *
 * A seed database is populated once through the running server (real HTTP requests); every
 * other database here is a copy of it (`CREATE DATABASE … TEMPLATE`), one per tamper case.
 */

const RUN = randomBytes(4).toString('hex');
const ID_SYSTEM = `urn:chartwarden-it:ledger-integrity:${RUN}`;
const LOINC = 'http://loinc.org';
const HIS = `his-ledger-${RUN}`;
const REFUSED = 'is refused: records are never altered or destroyed (R-17)';

/** `chartwarden <args>` in-process against `databaseUrl`. */
const runCli = runCliOn;


async function ledgerRow(url: string, document: string, version: number): Promise<LedgerRow> {
  const [type, id] = document.split('/');
  const [row] = await sql<LedgerRow>(url, 'SELECT * FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [type, id, version]);
  if (!row) throw new Error(`no ledger entry for ${document} version ${version}`);
  return row;
}

/** `[type, id, version]` of a document's version (`Type/id`), as SQL parameters. */
function at(document: string, version: number): [string, string, number] {
  const [type, id] = document.split('/');
  return [type, id, version];
}

/** Everything the ledger holds, as one digest: any change to an entry changes it. */
async function ledgerDigest(url: string): Promise<{ entries: number; digest: string }> {
  const [row] = await sql<{ entries: number; digest: string }>(
    url,
    `SELECT count(*)::int AS entries,
            encode(sha256(convert_to(coalesce(string_agg(resource_type || '/' || resource_id || '/' || version_id || '/' || recorded || '/' || editor || '/' || kind || '/' || coalesce(reason, '') || '/' || coalesce(doc_type, '') || '/' || entry || '/' || encode(prev_hash, 'hex') || '/' || encode(hash, 'hex'), E'\\n' ORDER BY resource_type, resource_id, version_id), ''), 'UTF8')), 'hex') AS digest
       FROM edit_ledger`,
  );
  return row;
}

describe('Edit ledger integrity: R-17 append-only, R-12 / R-17 tamper evidence, R-50 restore drill', () => {
  const created: string[] = [];
  const tempDirs: string[] = [];
  let seed = '';
  let work = '';
  /** The seed's documents (`Type/id`) and their version counts. */
  const docs = { a: '', b: '', c: '', d: '' };
  const versions: Record<string, number> = {};
  let observation = '';
  const DOCUMENTS = 4;
  const ENTRIES = 4 + 3 + 1 + 2;

  const newDatabase = async (template?: string): Promise<string> => {
    const name = `cw_ledger_${Date.now()}_${randomBytes(3).toString('hex')}`;
    await sql(urlOf(), `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
    created.push(name);
    return name;
  };
  /** A fresh copy of the populated seed database (nothing is connected to the seed after beforeAll). */
  const populatedCopy = async (): Promise<string> => urlOf(await newDatabase(seed));
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-ledger-'));
    tempDirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    seed = await newDatabase();
    const server = await startTestServer({ databaseUrl: urlOf(seed) });
    try {
      const his = await server.token({ sub: HIS });
      const call = async <T extends Resource>(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<T & { id: string }> => {
        const res = await httpRequest<T & { id: string }>(`${server.fhirBase}/${path}`, method, { token: his, body, headers });
        if (res.status !== 200 && res.status !== 201) throw new Error(`${method} ${path} failed: ${res.status} ${res.text}`);
        return res.body;
      };
      const edit = <T extends Resource & { id: string }>(resource: T, change: Partial<T>, headers: Record<string, string> = {}) => {
        const { meta: _meta, ...rest } = resource;
        return call<T>('PUT', `${resource.resourceType}/${resource.id}`, { ...rest, ...change }, headers);
      };
      const patient = await call<Patient>('POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: RUN }], name: [{ text: '李秀英' }] } satisfies Patient);
      const note = (title: string): Composition => ({
        resourceType: 'Composition',
        status: 'preliminary',
        type: { coding: [{ system: LOINC, code: '11506-3' }] },
        subject: { reference: `Patient/${patient.id}` },
        date: '2026-11-29T10:00:00+08:00',
        author: [{ reference: 'Practitioner/dr-li' }],
        title,
        section: [{ title: '病情', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">患者一般情况可。</div>' } }],
      });
      // A: created, changed, signed (final), corrected with a reason: 4 versions.
      let a = await call<Composition>('POST', 'Composition', note('日常病程记录'));
      a = await edit(a, { title: '日常病程记录（补记）' });
      a = await edit(a, { status: 'final' });
      a = await edit(a, { title: '日常病程记录（更正）' }, { 'x-edit-reason': encodeURIComponent('更正诊断') });
      // B: 3 versions; C: 1 version.
      let b = await call<Composition>('POST', 'Composition', note('上级医师查房记录'));
      b = await edit(b, { title: '上级医师查房记录 2' });
      b = await edit(b, { title: '上级医师查房记录 3' });
      const c = await call<Composition>('POST', 'Composition', note('会诊记录'));
      // D: a final discharge summary corrected with a reason: 2 versions.
      let d = await call<DocumentReference>('POST', 'DocumentReference', {
        resourceType: 'DocumentReference',
        status: 'current',
        docStatus: 'final',
        type: { coding: [{ system: LOINC, code: '18842-5' }] },
        subject: { reference: `Patient/${patient.id}` },
        description: '出院记录',
        content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('出院', 'utf8').toString('base64') } }],
      } satisfies DocumentReference);
      d = await edit(d, { description: '出院记录（修订）' }, { 'x-edit-reason': 'typo' });
      // Not governed: versions without ledger entries.
      const obs = await call<Observation>('POST', 'Observation', { resourceType: 'Observation', status: 'preliminary', code: { text: 'hr' }, subject: { reference: `Patient/${patient.id}` } } satisfies Observation);
      await edit(obs, { status: 'final' });
      observation = `Observation/${obs.id}`;
      Object.assign(docs, { a: `Composition/${a.id}`, b: `Composition/${b.id}`, c: `Composition/${c.id}`, d: `DocumentReference/${d.id}` });
      Object.assign(versions, { [docs.a]: 4, [docs.b]: 3, [docs.c]: 1, [docs.d]: 2 });
    } finally {
      await server.close();
    }
    work = await populatedCopy();
  }, 60_000);

  afterAll(async () => {
    // Copies before the seed: they hold the grants of the seed's role, which goes with the seed.
    for (const name of [...created].reverse()) await dropThrowawayDatabase(urlOf(), name);
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  describe('the populated ledger', () => {
    it('R-12: every version of every governed document written over HTTP has its entry; the Observation has none', async () => {
      for (const [document, count] of Object.entries(versions)) {
        const [type, id] = document.split('/');
        const rows = await sql<{ version_id: number }>(work, 'SELECT version_id FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id', [type, id]);
        expect({ document, versions: rows.map((r) => r.version_id) }).toEqual({ document, versions: Array.from({ length: count }, (_, i) => i + 1) });
        const [{ n }] = await sql<{ n: number }>(work, 'SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = $1 AND id = $2', [type, id]);
        expect(n).toBe(count);
      }
      const [type, id] = observation.split('/');
      expect(await sql(work, 'SELECT 1 FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2', [type, id])).toEqual([]);
      expect((await ledgerRow(work, docs.a, 4)).reason).toBe('更正诊断');
      expect((await ledgerRow(work, docs.d, 2)).reason).toBe('typo');
    });

    it('R-12 / R-17: verifyLedger on untouched data: every document and version intact', async () => {
      const report = await verifyLedger(work);
      expect(report).toMatchObject({ documents: DOCUMENTS, entries: ENTRIES, breaks: [] });
      expect(report.broken).toBeUndefined();
      expect(report.ms).toBeGreaterThanOrEqual(0);
    });

    it('R-12 / R-17: `chartwarden ledger verify` prints the counts and "intact"; `--document` verifies one document', async () => {
      const all = await runCli(work, ['ledger', 'verify']);
      expect(all.error).toBeUndefined();
      expect(all.stdout).toMatch(new RegExp(`^ledger verify: ${DOCUMENTS} documents, ${ENTRIES} versions intact \\(\\d+ ms\\)\\n  ledger root: [0-9a-f]{64}\\n$`));
      const one = await runCli(work, ['ledger', 'verify', '--document', docs.a]);
      expect(one.error).toBeUndefined();
      expect(one.stdout).toMatch(/^ledger verify: 1 documents, 4 versions intact/);
      expect(await verifyLedger(work, { document: docs.d })).toMatchObject({ documents: 1, entries: 2, breaks: [] });
      // A resource with no ledger (not governed) has nothing to verify.
      expect(await verifyLedger(work, { document: observation })).toMatchObject({ documents: 0, entries: 0, breaks: [] });
    });

    it('`ledger verify --document` that is not Type/id is refused before anything is read', async () => {
      const bad = await runCli(work, ['ledger', 'verify', '--document', 'composition 1']);
      expect(bad.error).toBeDefined();
      expect(bad.error).not.toBeInstanceOf(CliFailure);
      expect(bad.stderr).toContain('use Type/id, e.g. Composition/123');
      expect(bad.stdout).toBe('');
    });
  });

  describe('R-17: the database refuses changes to the ledger, even to a superuser', () => {
    it('R-17: the connection used is a superuser (a refusal is the trigger, not a missing privilege)', async () => {
      const [me] = await sql<{ rolsuper: boolean }>(work, 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
      expect(me.rolsuper).toBe(true);
    });

    it.each([
      ['UPDATE', `UPDATE edit_ledger SET reason = 'no reason' WHERE reason IS NOT NULL`],
      ['UPDATE', `UPDATE edit_ledger SET editor = 'someone-else'`],
      ['UPDATE', `UPDATE edit_ledger SET entry = entry || ' ', hash = prev_hash WHERE version_id = 1`],
      ['DELETE', `DELETE FROM edit_ledger WHERE version_id > 1`],
      ['DELETE', `DELETE FROM edit_ledger`],
      ['TRUNCATE', `TRUNCATE edit_ledger`],
    ])('R-17: %s on edit_ledger (%s) is refused with 42501 and nothing changes', async (op, statement) => {
      const before = await ledgerDigest(work);
      expect(before.entries).toBe(ENTRIES);
      await expect(sql(work, statement)).rejects.toMatchObject({ code: '42501', message: `ChartWarden: ${op} on edit_ledger ${REFUSED}` });
      expect(await ledgerDigest(work)).toEqual(before);
    });

    it('R-17: the current content cannot be rewritten in place: an UPDATE of fhir_resource without a new version is refused', async () => {
      const [type, id] = docs.a.split('/');
      await expect(sql(work, `UPDATE fhir_resource SET content = jsonb_set(content, '{title}', '"伪造标题"') WHERE resource_type = $1 AND id = $2`, [type, id])).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('without a new version is refused') as unknown,
      });
    });

    it('R-17: the versions the ledger hashes are append-only too (UPDATE of fhir_resource_version refused)', async () => {
      const [, id] = docs.a.split('/');
      await expect(sql(work, `UPDATE fhir_resource_version SET content = content || '{"title":"x"}'::jsonb WHERE id = $1`, [id])).rejects.toMatchObject({
        code: '42501',
        message: `ChartWarden: UPDATE on fhir_resource_version ${REFUSED}`,
      });
      expect((await verifyLedger(work)).broken).toBeUndefined();
    });
  });

  describe('R-12 / R-17: tampering by a superuser with the triggers off is found, naming the document and version', () => {
    interface Case {
      name: string;
      /** Tampers with the copy at `url`; returns the break `verify` must report. */
      tamper(url: string): Promise<LedgerBreak>;
    }
    const [typeOf, idOf] = [(doc: string) => doc.split('/')[0], (doc: string) => doc.split('/')[1]];
    const altered = (document: string, version: number): LedgerBreak => ({
      document,
      version,
      problem: 'entry-altered',
      detail: `${document}: the entry of version ${version} does not match its hash`,
    });
    const columnsAltered = (document: string, version: number): LedgerBreak => ({
      document,
      version,
      problem: 'entry-altered',
      detail: `${document}: the columns of version ${version}'s entry no longer say what its hashed entry says`,
    });

    const cases: Case[] = [
      {
        name: 'an entry\'s text edited (the reason of A v4 rewritten) → entry-altered at that version',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET entry = replace(entry, '更正诊断', '例行修改') WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.a, 4)]]]);
          return altered(docs.a, 4);
        },
      },
      {
        name: 'an entry\'s text and its columns edited together (A v4 reason) → entry-altered at that version (the hash does not match)',
        tamper: async (url) => {
          await asReplica(url, [
            [`UPDATE edit_ledger SET entry = replace(entry, '更正诊断', '例行修改'), reason = '例行修改' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.a, 4)]],
          ]);
          return altered(docs.a, 4);
        },
      },
      {
        name: 'an entry\'s diff edited (what changed in B v2) → entry-altered at that version',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET entry = replace(entry, '上级医师查房记录 2', '上级医师查房记录 X') WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.b, 2)]]]);
          return altered(docs.b, 2);
        },
      },
      {
        name: 'an entry forged and re-hashed over its own predecessor (A v2 given another editor) → link-broken at the next version',
        tamper: async (url) => {
          const row = await ledgerRow(url, docs.a, 2);
          const forged: LedgerEntry = { ...(JSON.parse(row.entry) as LedgerEntry), editor: 'dr-forger', practitioner: 'Practitioner/dr-forger' };
          const { text, hash } = ledgerHash(row.prev_hash, forged);
          await asReplica(url, [[`UPDATE edit_ledger SET entry = $4, editor = 'dr-forger', hash = $5 WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.a, 2), text, hash]]]);
          // The forged entry is self-consistent: only its successor gives it away.
          expect((await verifyLedger(url, { document: docs.a })).broken?.version).toBe(3);
          return { document: docs.a, version: 3, problem: 'link-broken', detail: `${docs.a}: the entry of version 3 does not point to the hash of version 2's entry` };
        },
      },
      {
        name: 'a middle entry deleted (A v2) → entry-missing naming that version',
        tamper: async (url) => {
          await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.a, 2)]]]);
          return { document: docs.a, version: 2, problem: 'entry-missing', detail: `${docs.a}: version 2 has no ledger entry (the next entry is for version 3)` };
        },
      },
      {
        name: 'two consecutive entries deleted (A v2, v3) → entry-missing naming the first',
        tamper: async (url) => {
          await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id IN (2, 3)', [typeOf(docs.a), idOf(docs.a)]]]);
          return { document: docs.a, version: 2, problem: 'entry-missing', detail: `${docs.a}: version 2 has no ledger entry (the next entry is for version 4)` };
        },
      },
      {
        name: 'the last entry of a document deleted (A v4, the corrected signed note) → entry-missing naming that version',
        tamper: async (url) => {
          await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.a, 4)]]]);
          return { document: docs.a, version: 4, problem: 'entry-missing', detail: `${docs.a}: version 4 has no ledger entry` };
        },
      },
      {
        name: 'the last entry of a DocumentReference deleted (D v2) → entry-missing naming that version',
        tamper: async (url) => {
          await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.d, 2)]]]);
          return { document: docs.d, version: 2, problem: 'entry-missing', detail: `${docs.d}: version 2 has no ledger entry` };
        },
      },
      {
        name: 'the editor column edited alone (B v2) → entry-altered (the columns no longer say what the entry says)',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET editor = 'dr-forger' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.b, 2)]]]);
          return columnsAltered(docs.b, 2);
        },
      },
      {
        name: 'the reason column edited alone (D v2) → entry-altered',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET reason = '医嘱变更' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.d, 2)]]]);
          return columnsAltered(docs.d, 2);
        },
      },
      {
        name: 'a reason added to a version written without one (A v2) → entry-altered',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET reason = '补充' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.a, 2)]]]);
          return columnsAltered(docs.a, 2);
        },
      },
      {
        name: 'the doc_type column edited alone (C v1) → entry-altered',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET doc_type = 'consultation' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.c, 1)]]]);
          return columnsAltered(docs.c, 1);
        },
      },
      {
        name: 'the kind column edited alone (B v3) → entry-altered',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET kind = 'create' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.b, 3)]]]);
          return columnsAltered(docs.b, 3);
        },
      },
      {
        name: 'a stored version\'s content edited in fhir_resource_version (A v2 title) → version-altered at that version',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE fhir_resource_version SET content = content || '{"title":"伪造标题"}'::jsonb WHERE resource_type = $1 AND id = $2 AND version_id = $3`, [...at(docs.a, 2)]]]);
          return { document: docs.a, version: 2, problem: 'version-altered', detail: `${docs.a}: stored version 2 is not the version the ledger recorded (its SHA-256 differs)` };
        },
      },
      {
        name: 'the current version\'s content edited in fhir_resource_version (D v2) → version-altered',
        tamper: async (url) => {
          const [{ content }] = await sql<{ content: DocumentReference }>(url, 'SELECT content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3', [...at(docs.d, 2)]);
          const changed: DocumentReference = { ...content, docStatus: 'preliminary' };
          expect(contentSha256(changed)).not.toBe(contentSha256(content));
          await asReplica(url, [['UPDATE fhir_resource_version SET content = $4::jsonb WHERE resource_type = $1 AND id = $2 AND version_id = $3', [...at(docs.d, 2), JSON.stringify(changed)]]]);
          return { document: docs.d, version: 2, problem: 'version-altered', detail: `${docs.d}: stored version 2 is not the version the ledger recorded (its SHA-256 differs)` };
        },
      },
      {
        name: 'a stored version deleted from fhir_resource_version (B v2) → version-altered: missing',
        tamper: async (url) => {
          await asReplica(url, [['DELETE FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3', [...at(docs.b, 2)]]]);
          return { document: docs.b, version: 2, problem: 'version-altered', detail: `${docs.b}: stored version 2 is missing` };
        },
      },
      {
        name: 'only the recorded time of an entry backdated (A v2) → entry-altered: its columns no longer say what its entry says',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE edit_ledger SET recorded = '2020-01-01T00:00:00Z' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.a, 2)]]]);
          return columnsAltered(docs.a, 2);
        },
      },
      {
        name: 'every entry of a document deleted (B) → entry-missing: it has no ledger entry at all',
        tamper: async (url) => {
          await asReplica(url, [[`DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2`, [typeOf(docs.b), idOf(docs.b)]]]);
          return { document: docs.b, version: 1, problem: 'entry-missing', detail: `${docs.b}: it has no ledger entry at all` };
        },
      },
      {
        name: 'the first entry of a document deleted (B v1) → entry-missing before version 2',
        tamper: async (url) => {
          await asReplica(url, [[`DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = 1`, [typeOf(docs.b), idOf(docs.b)]]]);
          return { document: docs.b, version: 1, problem: 'entry-missing', detail: `${docs.b}: the entries before version 2 are missing (its entry links to an earlier one)` };
        },
      },
      {
        name: 'the current content GET serves rewritten behind the API (A) → version-altered: it differs from its latest version',
        tamper: async (url) => {
          await asReplica(url, [[`UPDATE fhir_resource SET content = jsonb_set(content, '{title}', '"伪造标题"') WHERE resource_type = $1 AND id = $2`, [typeOf(docs.a), idOf(docs.a)]]]);
          return { document: docs.a, version: 4, problem: 'version-altered', detail: `${docs.a}: the current content differs from its version 4 as stored and recorded` };
        },
      },
    ];

    it.each(cases.map((c) => [c.name, c] as const))('R-12 / R-17: %s; `ledger verify` fails naming it', async (_name, c) => {
      const url = await populatedCopy();
      const expected = await c.tamper(url);

      const report = await verifyLedger(url);
      expect(report.broken).toEqual(expected);
      // Only the tampered document is reported broken; the rest are still counted.
      expect(report.breaks).toEqual([expected]);
      expect(report.documents).toBe(DOCUMENTS);

      const run = await runCli(url, ['ledger', 'verify']);
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toBe(`ledger verify: BROKEN — ${expected.detail} (${expected.problem})`);
      expect(run.stdout).not.toContain('intact');
      expect(run.stderr).not.toContain('also broken');
    });

    it('R-12 / R-17: two documents tampered → each reported (in document order), the first is the verdict; the CLI names the other on stderr', async () => {
      const url = await populatedCopy();
      await asReplica(url, [
        ['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.d, 2)]],
        [`UPDATE edit_ledger SET editor = 'dr-forger' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.b, 2)]],
      ]);
      const report = await verifyLedger(url);
      const dBreak: LedgerBreak = { document: docs.d, version: 2, problem: 'entry-missing', detail: `${docs.d}: version 2 has no ledger entry` };
      expect(report.breaks).toEqual([columnsAltered(docs.b, 2), dBreak]);
      expect(report.broken).toEqual(columnsAltered(docs.b, 2));
      const run = await runCli(url, ['ledger', 'verify']);
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toContain(`${docs.b}: the columns of version 2's entry`);
      expect(run.stderr).toContain(`also broken: ${dBreak.detail}`);
    });

    it('R-12: `--document` limits the check to one document: another document verifies intact, the tampered one does not', async () => {
      const url = await populatedCopy();
      await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.a, 2)]]]);
      const other = await runCli(url, ['ledger', 'verify', '--document', docs.b]);
      expect(other.error).toBeUndefined();
      expect(other.stdout).toMatch(/^ledger verify: 1 documents, 3 versions intact/);
      expect(await verifyLedger(url, { document: docs.d })).toMatchObject({ documents: 1, entries: 2, breaks: [] });
      // A deleted last entry of another document is not looked for either.
      await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.c, 1)]]]);
      expect((await verifyLedger(url, { document: docs.b })).breaks).toEqual([]);

      const tampered = await runCli(url, ['ledger', 'verify', '--document', docs.a]);
      expect(tampered.error).toBeInstanceOf(CliFailure);
      expect((tampered.error as Error).message).toBe(`ledger verify: BROKEN — ${docs.a}: version 2 has no ledger entry (the next entry is for version 3) (entry-missing)`);
      const report = await verifyLedger(url, { document: docs.a });
      expect(report).toMatchObject({ documents: 1, entries: 3 });
      expect(report.breaks.map((b) => b.document)).toEqual([docs.a]);
    });
  });

  describe('R-12 / R-17: the ledger root, kept outside the database, shows a consistently rewritten history', () => {
    it('R-17: rewriting a document\'s last entry with a recomputed hash passes the chain check, but changes the root printed by `ledger verify` and kept in the backup manifest', async () => {
      const url = await populatedCopy();
      const before = await verifyLedger(url);
      expect(before.broken).toBeUndefined();
      expect(before.root).toMatch(/^[0-9a-f]{64}$/);
      const dir = await tempDir();
      const manifest = await backup(url, join(dir, 'before.cwbak'));
      expect(manifest.ledgerRoot).toBe(before.root);
      const cli = await runCli(url, ['ledger', 'verify']);
      expect(cli.stdout).toContain(`  ledger root: ${before.root}\n`);

      const last = (await verifyLedger(url, { document: docs.b })).entries;
      const row = await ledgerRow(url, docs.b, last);
      const forged: LedgerEntry = { ...(JSON.parse(row.entry) as LedgerEntry), editor: 'dr-forger', practitioner: 'Practitioner/dr-forger' };
      const { text, hash } = ledgerHash(row.prev_hash, forged);
      await asReplica(url, [[`UPDATE edit_ledger SET entry = $4, editor = 'dr-forger', hash = $5 WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.b, last), text, hash]]]);

      const after = await verifyLedger(url);
      expect(after.broken).toBeUndefined(); // consistent: the chain alone cannot tell
      expect(after.root).not.toBe(before.root); // the root can
      // A drill of the earlier backup restores the original history, whose root is the manifest's.
      const drill = await restoreDrill(url, join(dir, 'before.cwbak'));
      expect(drill.ok).toBe(true);
      expect(drill.ledger.root).toBe(before.root);
    });
  });

  describe('R-50: the restore drill verifies the ledger', () => {
    it('R-50: `restore-drill` of a backup of intact data restores every ledger row and prints the ledger intact', async () => {
      const dir = await tempDir();
      const file = join(dir, 'ledger.cwbak');
      const manifest = await backup(work, file);
      expect(manifest.tables.find((t) => t.name === 'edit_ledger')?.rows).toBe(ENTRIES);
      const cli = await runCli(work, ['restore-drill', '--from', file]);
      expect(cli.error).toBeUndefined();
      expect(cli.stdout).toContain(`  edit_ledger: ${ENTRIES}/${ENTRIES} rows\n`);
      expect(cli.stdout).toContain(`  edit ledger: ${DOCUMENTS} documents, ${ENTRIES} versions intact\n`);
      expect(cli.stdout).toMatch(/restore-drill: OK in \d+ ms/);
    });

    it('R-50 / R-17: a backup taken after an entry was altered restores, but its drill reports the ledger problem and fails', async () => {
      const url = await populatedCopy();
      await asReplica(url, [[`UPDATE edit_ledger SET entry = replace(entry, '更正诊断', '例行修改'), reason = '例行修改' WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3`, [...at(docs.a, 4)]]]);
      const dir = await tempDir();
      const file = join(dir, 'tampered.cwbak');
      await backup(url, file);
      const expected: LedgerBreak = { document: docs.a, version: 4, problem: 'entry-altered', detail: `${docs.a}: the entry of version 4 does not match its hash` };
      const drill = await restoreDrill(url, file);
      expect(drill.ok).toBe(false);
      expect(drill.problems).toEqual([`edit ledger: ${expected.detail}`]);
      expect(drill.ledger).toMatchObject({ documents: DOCUMENTS, entries: ENTRIES, broken: expected, breaks: [expected] });
      expect(drill.audit.broken).toBeUndefined();
      expect(drill.tables.find((t) => t.name === 'edit_ledger')).toEqual({ name: 'edit_ledger', expected: ENTRIES, restored: ENTRIES });
    });

    it('R-50 / R-17: `restore-drill` of a backup missing a document\'s last ledger entry fails, naming that version', async () => {
      const url = await populatedCopy();
      await asReplica(url, [['DELETE FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3', [...at(docs.d, 2)]]]);
      const dir = await tempDir();
      const file = join(dir, 'missing.cwbak');
      await backup(url, file);
      const cli = await runCli(url, ['restore-drill', '--from', file]);
      expect(cli.error).toBeInstanceOf(CliFailure);
      expect((cli.error as Error).message).toMatch(/^restore-drill: FAILED \(1 problems; scratch database chartwarden_drill_\w+ dropped\)$/);
      expect(cli.stdout).toContain(`  edit ledger: ${DOCUMENTS} documents, ${ENTRIES - 1} versions BROKEN\n`);
      expect(cli.stderr).toContain(`restore-drill: edit ledger: ${docs.d}: version 2 has no ledger entry`);
    });
  });
});

import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { Composition, Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { CliFailure } from '../../src/cli/cli.js';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import { verifySeal } from '../../src/cli/offline-checks.js';
import type { SealProblem } from '../../src/disputes/seal-verifier.js';
import { asReplica, runCliOn, sql, urlOf } from '../support/database-admin.js';
import { httpRequest } from '../support/http.js';
import { startTestServer } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * R-42 on a database made for this file alone (rows are forged here): the sealed inventory
 * and copies cannot be changed through the database's front door (triggers), and whatever a
 * superuser changes behind it — a sealed version, a record's current version, a copy's bytes,
 * an inventory hash — is reported by `chartwarden seal verify <dispute-id>`.
 */
const RUN = randomBytes(4).toString('hex');

describe('Sealed records integrity: R-42 seal verify, R-17 append-only inventory', () => {
  const database = `cw_seal_${Date.now()}_${RUN}`;
  const url = urlOf(database);
  let dispute = '';
  let lab = '';
  let note = '';

  const problems = async (): Promise<SealProblem['problem'][]> => [...new Set((await verifySeal(url, dispute)).problems.map((p) => p.problem))].sort();

  beforeAll(async () => {
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    const server = await startTestServer({ databaseUrl: url });
    try {
      const his = await server.token({ sub: `his-seal-${RUN}` });
      const officer = await server.token({ sub: `officer-seal-${RUN}`, roles: ['disputes-officer'] });
      const witness = await server.token({ sub: `witness-seal-${RUN}`, roles: ['medical-affairs'] });
      const post = async <T extends Resource>(resource: T): Promise<T & { id: string }> => {
        const res = await httpRequest<T & { id: string }>(`${server.fhirBase}/${resource.resourceType}`, 'POST', { token: his, body: resource });
        if (res.status !== 201) throw new Error(`${resource.resourceType}: ${res.status} ${res.text}`);
        return res.body;
      };
      const patient = await post<Patient>({ resourceType: 'Patient', name: [{ text: '赵敏' }] });
      const encounter = await post<Encounter>({
        resourceType: 'Encounter',
        status: 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
        subject: { reference: `Patient/${patient.id}` },
        period: { start: '2026-11-20T08:00:00+08:00', end: '2026-11-27T10:00:00+08:00' },
      });
      note = (
        await post<Composition>({
          resourceType: 'Composition',
          status: 'final',
          type: { coding: [{ system: 'http://loinc.org', code: '18842-5' }] },
          subject: { reference: `Patient/${patient.id}` },
          encounter: { reference: `Encounter/${encounter.id}` },
          date: '2026-11-27T10:00:00+08:00',
          author: [{ reference: 'Practitioner/dr-zhao' }],
          title: '出院记录',
        })
      ).id;
      lab = (await post<Observation>({ resourceType: 'Observation', status: 'final', code: { text: '白细胞' }, subject: { reference: `Patient/${patient.id}` }, encounter: { reference: `Encounter/${encounter.id}` }, valueQuantity: { value: 6.1, unit: '10^9/L' } })).id;
      const root = server.fhirBase.replace(/\/fhir$/, '');
      const opened = await httpRequest<DisputeView>(`${root}/disputes`, 'POST', { token: officer, contentType: 'application/json', body: { patient: patient.id, reason: '医疗纠纷', scope: { kind: 'date-range', from: '2026-11-19', to: '2026-11-28' } } });
      if (opened.status !== 201) throw new Error(`open: ${opened.status} ${opened.text}`);
      dispute = opened.body.id;
      const shown = await httpRequest<{ digest: string }>(`${root}/disputes/${dispute}/inventory`, 'GET', { token: officer, headers: { accept: 'application/json' } });
      const confirmed = await httpRequest(`${root}/disputes/${dispute}/confirmations`, 'POST', { token: witness, contentType: 'application/json', body: { step: 'seal', inventoryDigest: shown.body.digest } });
      if (confirmed.status !== 201) throw new Error(`confirm: ${confirmed.status} ${confirmed.text}`);
      const sealed = await httpRequest<DisputeView>(`${root}/disputes/${dispute}/seal`, 'POST', {
        token: officer,
        contentType: 'application/json',
        body: { inventoryDigest: shown.body.digest, patientWitness: { name: '赵敏', relationship: 'self', idDocument: { type: 'resident-id-card', number: '310101198001011234' }, confirmed: true } },
      });
      if (sealed.status !== 200) throw new Error(`seal: ${sealed.status} ${sealed.text}`);
      expect(sealed.body.inventory).toEqual({ sealed: 3, pending: 0 });
    } finally {
      await server.close();
    }
  });
  afterAll(async () => {
    await dropThrowawayDatabase(urlOf(), database);
  });

  it('R-42: an untouched case verifies, through the CLI too', async () => {
    const report = await verifySeal(url, dispute);
    expect(report).toMatchObject({ dispute, status: 'sealed', sealed: 3, pending: 0, copies: 1, problems: [] });
    const cli = await runCliOn(url, ['seal', 'verify', dispute]);
    expect(cli.error).toBeUndefined();
    expect(cli.stdout).toContain(`seal verify: dispute ${dispute} (sealed): 3 sealed records, 0 pending, 1 sealed copies intact`);
  });

  it('R-17/R-42: the database refuses to change or remove a sealed line or a sealed copy', async () => {
    await expect(sql(url, `UPDATE dispute_item SET sha256 = repeat('0', 64) WHERE dispute_id = $1`, [dispute])).rejects.toThrow(/cannot change \(R-42\)/);
    await expect(sql(url, `DELETE FROM dispute_item WHERE dispute_id = $1`, [dispute])).rejects.toThrow(/cannot change \(R-42\)/);
    await expect(sql(url, `UPDATE dispute_copy SET pages = 1 WHERE dispute_id = $1`, [dispute])).rejects.toThrow(/is refused/);
    await expect(sql(url, `DELETE FROM dispute_copy WHERE dispute_id = $1`, [dispute])).rejects.toThrow(/is refused/);
    await expect(sql(url, `TRUNCATE dispute_copy`)).rejects.toThrow(/is refused/);
    // The case itself: who may read a public incident, when it was sealed, what it covers, never change.
    await expect(sql(url, `UPDATE dispute SET team = '["Practitioner/intruder"]' WHERE id = $1`, [dispute])).rejects.toThrow(/moves only forward/);
    await expect(sql(url, `UPDATE dispute SET sealed_at = sealed_at - interval '4 years' WHERE id = $1`, [dispute])).rejects.toThrow(/moves only forward/);
    await expect(sql(url, `UPDATE dispute SET status = 'open', sealed_at = NULL WHERE id = $1`, [dispute])).rejects.toThrow(/moves only forward/);
    await expect(sql(url, `DELETE FROM dispute WHERE id = $1`, [dispute])).rejects.toThrow(/is refused/);
    expect((await sql<{ status: string }>(url, `SELECT status FROM dispute WHERE id = $1`, [dispute]))[0].status).toBe('sealed');
    expect((await verifySeal(url, dispute)).problems).toEqual([]);
  });

  it('R-42: what a superuser changes behind the triggers is found, and the CLI exits non-zero naming it', async () => {
    // A sealed version rewritten in the history.
    await asReplica(url, [[`UPDATE fhir_resource_version SET content = jsonb_set(content, '{valueQuantity,value}', '9.9') WHERE resource_type = 'Observation' AND id = $1`, [lab]]]);
    expect(await problems()).toEqual(['version-altered']);
    // A record moved on while sealed.
    await asReplica(url, [[`UPDATE fhir_resource SET version_id = version_id + 1 WHERE resource_type = 'Composition' AND id = $1`, [note]]]);
    expect(await problems()).toEqual(['changed-after-seal', 'version-altered']);
    // The sealed copy's bytes.
    await asReplica(url, [[`UPDATE dispute_copy SET pdf = pdf || '\\x00'::bytea WHERE dispute_id = $1`, [dispute]]]);
    expect(await problems()).toEqual(['changed-after-seal', 'copy-altered', 'version-altered']);
    // An inventory hash "corrected" to match the rewritten version: the copy still disagrees.
    await asReplica(url, [[`UPDATE dispute_item SET sha256 = repeat('a', 64) WHERE dispute_id = $1 AND resource_type = 'Encounter'`, [dispute]]]);
    const report = await verifySeal(url, dispute);
    expect(report.problems.map((p) => p.problem)).toEqual(expect.arrayContaining(['copy-mismatch']));
    expect(report.problems.find((p) => p.problem === 'changed-after-seal')?.detail).toContain(`Composition/${note}`);

    const cli = await runCliOn(url, ['seal', 'verify', dispute]);
    expect(cli.error).toBeInstanceOf(CliFailure);
    expect((cli.error as Error).message).toContain(`DIFFERENCES in dispute ${dispute}`);
    expect(cli.stderr).toContain(`Observation/${lab}`);
  });

  it('an unknown case is an error, not a clean report', async () => {
    const cli = await runCliOn(url, ['seal', 'verify', '00000000-0000-0000-0000-000000000000']);
    expect((cli.error as Error).message).toContain('no dispute');
  });
});

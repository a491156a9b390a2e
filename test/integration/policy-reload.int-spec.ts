import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.js';
import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import type { Actor } from '../../src/identity/actor.js';
import { AccessPolicyService } from '../../src/policy/access-policy.service.js';
import { ActiveAccessSource, type ActiveAccess } from '../../src/policy/active-access.port.js';
import { LoadedPolicy } from '../../src/policy/loaded-policy.js';
import { PolicyDocumentTypes } from '../../src/policy/policy-document-types.js';
import { PolicyReloader } from '../../src/policy/policy-reloader.js';
import { defaultPolicyPath, loadPolicy, validatePolicy } from '../../src/policy/policy.loader.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';

class NoGrants extends ActiveAccessSource {
  async activeFor(): Promise<ActiveAccess> {
    return { grants: [], breakGlass: [] };
  }
}

/**
 * The policy reload (issue 14) on a real audit log: what is put in force, what is refused and
 * why, what the trail records, and that every holder of the policy — cached
 * abilities of an actor already seen, document types — follows without a restart.
 */
describe('Policy reload (integration)', () => {
  let db: ChartWardenDatabase;
  let audit: AuditLog;
  let dir: string;
  let file: string;
  let original: string;
  const tag = `reload-${Date.now().toString(36)}`;
  const auditor: Actor = { id: `auditor-${tag}`, practitioner: `Practitioner/auditor-${tag}`, roles: ['auditor'], scopes: [] };

  const entries = async () =>
    db.query<{ outcome: number; content: string }>(`SELECT outcome, content FROM audit_entry WHERE subtype = 'policy-reload' AND content LIKE $1 ORDER BY recorded, seq`, [`%${tag}%`]);
  const withVersion = (text: string, version: string) => text.replace(/^version: .*$/m, `version: "${version}"`);

  beforeAll(async () => {
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
    audit = new AuditLog(db, 4, 100);
    await audit.onModuleInit();
    dir = await mkdtemp(join(tmpdir(), 'chartwarden-reload-'));
    file = join(dir, 'policy.yaml');
    original = withVersion(await readFile(defaultPolicyPath(), 'utf8'), `${tag}.1`);
  });
  /** Every reloader made here listens for SIGHUP until shut down. */
  const made: PolicyReloader[] = [];
  const reloaderOf = (policy: LoadedPolicy, log: AuditLog = audit) => {
    const reloader = new PolicyReloader(policy, log, new SystemClock());
    made.push(reloader);
    return reloader;
  };
  afterAll(async () => {
    for (const r of made) r.onApplicationShutdown();
    await db?.onApplicationShutdown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const fresh = async () => {
    await writeFile(file, original);
    const policy = new LoadedPolicy(loadPolicy(file, loadR4Definitions()), file);
    return { policy, reloader: reloaderOf(policy) };
  };

  it('a new version is recorded, then in force at once for an actor whose ability was already cached; document types follow', async () => {
    const { policy, reloader } = await fresh();
    const decisions = new AccessPolicyService(policy, new NoGrants(), new SystemClock());
    const types = new PolicyDocumentTypes(policy);
    expect(decisions.decideWorkflow(auditor, 'explain', 'Policy')).toMatchObject({ allowed: true, rule: 'auditor.explain', policyVersion: `${tag}.1` });
    expect(types.typeOf(`urn:${tag}`, 'C0001')).toBeUndefined();

    const changed = withVersion(original, `${tag}.2`)
      .replace(/^ {6}- \{ id: auditor\.explain.*\n/m, '')
      .replace('  resources: [Composition, DocumentReference]\n', `  resources: [Composition, DocumentReference]\n  documentTypeMap: [{ system: "urn:${tag}", code: C0001, type: admission-record }]\n`);
    expect(changed).not.toContain('auditor.explain');
    await writeFile(file, changed);
    const result = await reloader.reload('SIGHUP');
    expect(result).toEqual({ outcome: 'applied', from: `${tag}.1`, to: `${tag}.2`, problems: [] });
    expect(policy.version).toBe(`${tag}.2`);
    // The same Actor object: its cached ability belonged to the old version.
    expect(decisions.decideWorkflow(auditor, 'explain', 'Policy')).toEqual({ allowed: false, rule: undefined, policyVersion: `${tag}.2` });
    expect(decisions.decideWorkflow(auditor, 'audit', 'AuditEvent')).toMatchObject({ allowed: true, policyVersion: `${tag}.2` });
    expect(types.typeOf(`urn:${tag}`, 'C0001')).toBe('admission-record');

    const recorded = await entries();
    expect(recorded).toHaveLength(1);
    expect(recorded[0].outcome).toBe(0);
    expect(JSON.parse(recorded[0].content)).toMatchObject({
      action: 'E',
      subtype: 'policy-reload',
      status: 200,
      method: 'SIGHUP',
      path: `policy ${tag}.1 -> ${tag}.2 from ${file}`,
      policyVersion: `${tag}.2`,
      entity: { type: 'Policy', id: `${tag}.2` },
      agent: { id: expect.stringMatching(/^chartwarden:.+:\d+$/), roles: [] },
    });
  });

  it('the same file again changes nothing and records nothing; a changed policy under the same version is refused', async () => {
    const { policy, reloader } = await fresh();
    const before = (await entries()).length;
    expect(await reloader.reload('SIGHUP')).toEqual({ outcome: 'unchanged', from: `${tag}.1`, to: `${tag}.1`, problems: [] });
    expect(await entries()).toHaveLength(before);

    await writeFile(file, original.replace('hiddenRecords: forbidden', 'hiddenRecords: not-found'));
    const refused = await reloader.reload('SIGHUP');
    expect(refused.outcome).toBe('refused');
    expect(refused.problems).toEqual([expect.stringContaining(`still says version "${tag}.1"`)]);
    expect(policy.settings.hiddenRecords).toBe('forbidden');
    const recorded = await entries();
    expect(recorded).toHaveLength(before + 1);
    expect(recorded[before].outcome).toBe(4);
    expect(JSON.parse(recorded[before].content)).toMatchObject({ status: 422, error: 'policy.invalid', path: `policy ${tag}.1 kept: ${file} refused` });
  });

  it('an invalid policy is refused with every problem named, and the old one stays', async () => {
    const { policy, reloader } = await fresh();
    await writeFile(file, withVersion(original, `${tag}.9`).replace('roles: [attending, resident, chief, nurse]', 'roles: [attending, surgeon]').replace('hours: 4 ', 'hours: -1 '));
    const refused = await reloader.reload('SIGHUP');
    expect(refused.outcome).toBe('refused');
    expect(refused.problems.slice(1)).toEqual([expect.stringMatching(/^settings\.breakGlass\.hours: /)]);
    await writeFile(file, withVersion(original, `${tag}.9`).replace('roles: [attending, resident, chief, nurse]', 'roles: [attending, surgeon]'));
    const second = await reloader.reload('SIGHUP');
    expect(second.problems.slice(1)).toEqual(['settings.breakGlass.roles[1]: no role "surgeon"']);
    expect(policy.version).toBe(`${tag}.1`);
  });

  it('the change is not put in force when the trail cannot record it (R-20)', async () => {
    const { policy } = await fresh();
    const closed = await ChartWardenDatabase.connect(testDatabaseUrl(), 1, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
    await closed.onApplicationShutdown();
    const reloader = reloaderOf(policy, new AuditLog(closed, 4, 100));
    await writeFile(file, withVersion(original, `${tag}.5`));
    const result = await reloader.reload('SIGHUP');
    expect(result).toMatchObject({ outcome: 'refused', from: `${tag}.1`, to: `${tag}.1` });
    expect(policy.version).toBe(`${tag}.1`);
  });

  it('a policy given as an object by an embedding application cannot be re-read: nothing changes', async () => {
    const policy = new LoadedPolicy(validatePolicy(loadPolicy(defaultPolicyPath(), loadR4Definitions()), loadR4Definitions(), 'options.policy'));
    const reloader = reloaderOf(policy);
    const version = policy.version;
    expect(await reloader.reload('SIGHUP')).toEqual({ outcome: 'not-reloadable', from: version, to: version, problems: [] });
    expect(policy.version).toBe(version);
  });
});

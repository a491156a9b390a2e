import { REMOTE_DEFAULTS } from '../../src/config/chartwarden.options.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  CONFIG_REFERENCE_COMMAND,
  configurationReference,
  environmentRows,
  policyRows,
  undocumentedPaths,
  undocumentedSettings,
} from '../../src/cli/config-reference.js';
import { settingsFromEnv } from '../../src/config/env.config.js';
import { FhirSettings } from '../../src/fhir/fhir.settings.js';
import { LoadedPolicy } from '../../src/policy/loaded-policy.js';
import type { PolicyDocument } from '../../src/policy/domain/policy-document.js';
import { defaultPolicyPath, loadPolicy } from '../../src/policy/policy.loader.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';

/**
 * docs/configuration.md is generated from the schemas that validate the configuration, so a
 * variable or policy setting cannot exist without being documented. No database is used: these
 * are checks on the repository, run by the integration project because they read docs/ and the
 * shipped policy rather than one unit of src/ (the unit project only runs src/**\/*.spec.ts).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const committed = () => readFileSync(join(root, 'docs/configuration.md'), 'utf8');

describe('configuration reference (docs/configuration.md), generated from the schemas', () => {
  it('every environment variable and policy setting has a description in its schema', () => {
    const missing = undocumentedSettings();
    if (missing.length > 0) {
      throw new Error(`Add .describe() or .meta({ description }) in the schema for:\n  ${missing.join('\n  ')}`);
    }
    expect(environmentRows().length).toBeGreaterThanOrEqual(20);
    expect(policyRows().map((r) => r.path)).toEqual(expect.arrayContaining(['settings.hospitalName', 'roles.<role>.rules[].when.onCareTeam']));
  });

  it('the check finds a setting without a description, inside objects, lists, maps and unions alike', () => {
    const schema = z.object({
      described: z.string().describe('has one'),
      bare: z.number().optional(),
      list: z.array(z.object({ inner: z.boolean() })).describe('a list'),
      map: z.record(z.string(), z.object({ deep: z.string().describe('ok'), deeper: z.string() })).describe('a map'),
      either: z.union([z.literal('x'), z.object({ n: z.number() })]).describe('a union'),
    });
    expect(undocumentedPaths(schema)).toEqual(['bare', 'list[].inner', 'map.<key>.deeper', 'either.n']);
  });

  it('the committed docs/configuration.md is what the schemas generate', () => {
    const expected = configurationReference();
    const actual = committed();
    if (actual !== expected) {
      const a = actual.split('\n');
      const e = expected.split('\n');
      const line = e.findIndex((l, i) => l !== a[i]);
      throw new Error(
        `docs/configuration.md is stale: run \`${CONFIG_REFERENCE_COMMAND}\` and commit it.\n` +
          `First difference at line ${line + 1}:\n  committed: ${a[line] ?? '(end of file)'}\n  generated: ${e[line] ?? '(end of file)'}`,
      );
    }
    expect(actual).toContain('| `CHARTWARDEN_POLICY` |');
    expect(actual).toContain('| `settings.hospitalName` | no | ChartWarden 示例医院 |');
  });

  it('the documented environment defaults are the ones the server applies', () => {
    const documented = Object.fromEntries(environmentRows().map((r) => [r.path, r.node.default]));
    const s = settingsFromEnv({});
    const fhir = new FhirSettings(s.options.fhir ?? {});
    expect({
      PORT: s.port,
      CHARTWARDEN_DATA_DIR: './.data',
      CHARTWARDEN_EMBEDDED_PG_PORT: s.embeddedPostgresPort,
      CHARTWARDEN_DB_POOL_SIZE: s.options.databasePoolSize,
      CHARTWARDEN_MAX_BODY_BYTES: fhir.maxBodyBytes,
      CHARTWARDEN_MAX_VALUES_PER_PARAMETER: fhir.maxValuesPerParameter,
      CHARTWARDEN_MAX_SEARCH_PARAMETERS: fhir.maxSearchParameters,
      CHARTWARDEN_MAX_JSON_DEPTH: fhir.maxJsonDepth,
      LOG_LEVEL: s.options.logging?.level,
      // Applied by the remote store when the options leave them out (src/store/remote/remote-store.factory.ts, store.module.ts).
      CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: REMOTE_DEFAULTS.syncIntervalSeconds,
      CHARTWARDEN_UPSTREAM_TIMEOUT_MS: REMOTE_DEFAULTS.timeoutMs,
    }).toEqual({
      PORT: documented.PORT,
      CHARTWARDEN_DATA_DIR: documented.CHARTWARDEN_DATA_DIR,
      CHARTWARDEN_EMBEDDED_PG_PORT: documented.CHARTWARDEN_EMBEDDED_PG_PORT,
      CHARTWARDEN_DB_POOL_SIZE: documented.CHARTWARDEN_DB_POOL_SIZE,
      CHARTWARDEN_MAX_BODY_BYTES: documented.CHARTWARDEN_MAX_BODY_BYTES,
      CHARTWARDEN_MAX_VALUES_PER_PARAMETER: documented.CHARTWARDEN_MAX_VALUES_PER_PARAMETER,
      CHARTWARDEN_MAX_SEARCH_PARAMETERS: documented.CHARTWARDEN_MAX_SEARCH_PARAMETERS,
      CHARTWARDEN_MAX_JSON_DEPTH: documented.CHARTWARDEN_MAX_JSON_DEPTH,
      LOG_LEVEL: documented.LOG_LEVEL,
      CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: documented.CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS,
      CHARTWARDEN_UPSTREAM_TIMEOUT_MS: documented.CHARTWARDEN_UPSTREAM_TIMEOUT_MS,
    });
    expect(s.dataDir).toBe(join(process.cwd(), '.data'));
  });

  it('the documented policy defaults are the ones applied when a policy leaves the setting out', () => {
    const shipped = loadPolicy(defaultPolicyPath(), loadR4Definitions());
    // The shipped policy with every optional setting that has a documented default removed.
    const bare = structuredClone(shipped) as PolicyDocument;
    delete bare.settings.hospitalName;
    delete bare.settings.recordRetention;
    delete bare.settings.timeZone;
    delete bare.settings.stamp;
    delete bare.settings.medicalRecordNumberSystems;
    delete bare.settings.idNumbersVisibleTo;
    bare.governance = { resources: shipped.governance?.resources ?? ['Composition'] };
    delete bare.copyRequests;
    delete bare.disputes;
    const p = new LoadedPolicy(bare);
    const applied: Record<string, unknown> = {
      'settings.hospitalName': p.hospitalName,
      'settings.recordRetention': p.recordRetention,
      'settings.timeZone': p.timeZone,
      'settings.stamp.copy': p.stamp.copy,
      'settings.stamp.sealed': p.stamp.sealed,
      'settings.stamp.colour': p.stamp.colour,
      'settings.medicalRecordNumberSystems': p.medicalRecordNumberSystems,
      'settings.idNumbersVisibleTo': p.idNumbersVisibleTo,
      'governance.copyPasteMinChars': p.copyPasteMinChars,
      'governance.archiveOutpatientOnSigning': p.archiveOutpatientOnSigning,
      'governance.archiveInpatientRoles': p.archiveInpatientRoles,
      'governance.amendmentPermitHours': p.amendmentPermitHours,
      'copyRequests.maxEvidenceBytes': p.maxEvidenceBytes,
      'copyRequests.separationOfDuties': p.copySeparationOfDuties,
      'disputes.unilateralUnsealAfterYears': p.unilateralUnsealAfterYears,
      'disputes.confirmationMinutes': p.disputeConfirmationMinutes,
    };
    const documented = Object.fromEntries(policyRows().filter((r) => r.node.default !== undefined).map((r) => [r.path, r.node.default]));
    // A new documented default must be added here, so that it is checked too.
    expect(Object.keys(documented).sort()).toEqual(Object.keys(applied).sort());
    expect(applied).toEqual(documented);
  });
});

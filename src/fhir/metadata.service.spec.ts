import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../policy/policy.loader.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { MetadataService } from './metadata.service.js';

describe('GET /fhir/metadata (MetadataService)', () => {
  const shipped = loadPolicy(defaultPolicyPath(), loadR4Definitions());
  const policy = new LoadedPolicy(shipped);
  const metadata = new MetadataService(SearchParameterRegistry.fromProfiles(), policy, {} as ChartWardenOptions);
  const statementAt = (base: string) => metadata.capabilities(base).body as CapabilityStatement;

  it('names the base URL each client reached, from one statement built per policy (made-up Host headers cost no rebuild)', () => {
    const first = statementAt('https://emr.example/fhir');
    const bases = Array.from({ length: 40 }, (_, i) => `http://host-${i}.invalid/fhir`);
    const answers = bases.map(statementAt);
    expect(first.implementation?.url).toBe('https://emr.example/fhir');
    expect(answers.map((a) => a.implementation?.url)).toEqual(bases);
    // The same statement under each URL: its resources were built once.
    expect(answers.every((a) => a.rest === first.rest)).toBe(true);
  });

  it('a reloaded policy is described anew', () => {
    const before = statementAt('https://emr.example/fhir');
    policy.replace({ ...shipped, version: `${shipped.version}-reloaded` });
    const after = statementAt('https://emr.example/fhir');
    expect(after.rest).not.toBe(before.rest);
    expect(after.implementation?.url).toBe('https://emr.example/fhir');
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { packageRoot } from '../common/package-root.js';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import type { PolicyDocument } from '../policy/domain/policy-document.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { capabilityStatement } from './capability-statement.js';
import type { FhirResponse } from './fhir-response.js';
import { identityProvider, type IdentityProvider } from './smart-configuration.js';
import type { CapabilityStatement } from '@medplum/fhirtypes';

/** Serves `GET /fhir/metadata`. */
@Injectable()
export class MetadataService {
  private readonly version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  private readonly identity: IdentityProvider;
  private readonly cors: boolean;

  /**
   * Built once per policy document (it changes only with it, the code and the search
   * parameters); each answer names the base URL the client reached (`implementation.url`), so
   * a stream of made-up Host headers costs a shallow copy each, never a rebuild.
   */
  private built?: { for: PolicyDocument; statement: CapabilityStatement };

  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly policy: LoadedPolicy,
    @Inject(CHARTWARDEN_OPTIONS) options: ChartWardenOptions,
  ) {
    this.identity = identityProvider(options.identity);
    this.cors = (options.cors?.origins.length ?? 0) > 0;
  }

  capabilities(baseUrl: string): FhirResponse {
    if (this.built?.for !== this.policy.document) {
      const statement = capabilityStatement({
        baseUrl: '',
        version: this.version,
        policy: this.policy,
        resourceTypes: loadR4Definitions(),
        registry: this.registry,
        identity: this.identity,
        cors: this.cors,
      });
      this.built = { for: this.policy.document, statement };
    }
    const { statement } = this.built;
    return { status: 200, body: { ...statement, implementation: { ...statement.implementation, description: statement.implementation?.description ?? '', url: baseUrl } } };
  }
}

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

/** Most base URLs one policy's statements are kept for (a server reached under many host names builds the rest each time). */
const CACHED_BASES = 16;

/** Serves `GET /fhir/metadata`. */
@Injectable()
export class MetadataService {
  private readonly version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  private readonly identity: IdentityProvider;
  private readonly cors: boolean;

  /** Built once per base URL and policy document: it changes only with them, the code and the search parameters. */
  private readonly built = new Map<string, CapabilityStatement>();
  private builtFor?: PolicyDocument;

  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly policy: LoadedPolicy,
    @Inject(CHARTWARDEN_OPTIONS) options: ChartWardenOptions,
  ) {
    this.identity = identityProvider(options.identity);
    this.cors = (options.cors?.origins.length ?? 0) > 0;
  }

  capabilities(baseUrl: string): FhirResponse {
    // A reloaded policy governs other types: statements built under the previous one are dropped.
    if (this.builtFor !== this.policy.document) {
      this.built.clear();
      this.builtFor = this.policy.document;
    }
    let statement = this.built.get(baseUrl);
    if (!statement) {
      statement = capabilityStatement({
        baseUrl,
        version: this.version,
        policy: this.policy,
        resourceTypes: loadR4Definitions(),
        registry: this.registry,
        identity: this.identity,
        cors: this.cors,
      });
      if (this.built.size < CACHED_BASES) this.built.set(baseUrl, statement);
    }
    return { status: 200, body: statement };
  }
}

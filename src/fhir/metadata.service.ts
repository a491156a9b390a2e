import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { packageRoot } from '../common/package-root.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { capabilityStatement } from './capability-statement.js';
import type { FhirResponse } from './fhir-response.js';
import type { CapabilityStatement } from '@medplum/fhirtypes';

/** Serves `GET /fhir/metadata`. */
@Injectable()
export class MetadataService {
  private readonly version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

  /** Built once per base URL: it only changes with the code and the search parameters. */
  private readonly built = new Map<string, CapabilityStatement>();

  constructor(private readonly registry: SearchParameterRegistry) {}

  capabilities(baseUrl: string): FhirResponse {
    let statement = this.built.get(baseUrl);
    if (!statement) {
      statement = capabilityStatement(baseUrl, this.version, loadR4Definitions(), this.registry);
      if (this.built.size < 16) this.built.set(baseUrl, statement);
    }
    return { status: 200, body: statement };
  }
}

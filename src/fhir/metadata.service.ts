import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { packageRoot } from '../common/package-root.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { capabilityStatement } from './capability-statement.js';
import type { FhirResponse } from './fhir-response.js';

/** Serves `GET /fhir/metadata`. */
@Injectable()
export class MetadataService {
  private readonly version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

  constructor(private readonly registry: SearchParameterRegistry) {}

  capabilities(baseUrl: string): FhirResponse {
    return { status: 200, body: capabilityStatement(baseUrl, this.version, loadR4Definitions(), this.registry) };
  }
}

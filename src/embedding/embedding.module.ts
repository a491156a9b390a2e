import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { FhirModule } from '../fhir/fhir.module.js';
import { ChartWarden } from './chartwarden.client.js';
import { EmbeddedCalls } from './embedded-calls.js';

/**
 * The embedding API: `ChartWarden`, the actor-bound client a host injects instead of the store
 * (docs/decisions/0013). Built on the FHIR use cases and the audit recorder only; no feature
 * imports it. The root module imports and exports it, so a host that imports
 * `ChartWardenModule.forRoot(...)` can inject `ChartWarden`.
 */
@Module({
  imports: [FhirModule, AuditModule],
  providers: [EmbeddedCalls, ChartWarden],
  exports: [ChartWarden],
})
export class EmbeddingModule {}

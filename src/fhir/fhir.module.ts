import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { CarriedTotals } from './paging-total.js';
import { AuditModule } from '../audit/audit.module.js';
import { IdentityModule } from '../identity/identity.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { CorsPolicy } from './cors.js';
import { FhirBundleService } from './fhir-bundle.service.js';
import { FhirController } from './fhir.controller.js';
import { FhirService } from './fhir.service.js';
import { FhirPatchService } from './fhir-patch.service.js';
import { FormatNegotiation } from './format-negotiation.js';
import { HeaderLimit } from './header-limit.js';
import { InputGuard } from './input-guard.middleware.js';
import { MetadataService } from './metadata.service.js';
import { ResourceValidator } from './resource.validator.js';
import { RoutePermissionGuard } from './route-permission.js';
import { SmartConfigurationController } from './smart-configuration.controller.js';

/**
 * The FHIR R4 REST facade at `/fhir`: routing, validation, Bundles, OperationOutcome, the
 * capability statement. Depends on two abstractions, the access port (`FhirAccess`) and the
 * write chain (`WriteChain`, composed by the root module), never on governance or disputes.
 * Its routes are `FhirRoutesModule`'s, which the root module imports last.
 */
@Module({
  imports: [IdentityModule, PolicyModule, AuditModule, StoreModule],
  controllers: [SmartConfigurationController],
  providers: [FhirService, CarriedTotals, FhirPatchService, FhirBundleService, MetadataService, ResourceValidator, InputGuard, HeaderLimit, RoutePermissionGuard, CorsPolicy, FormatNegotiation],
  exports: [FhirService, FhirPatchService, FhirBundleService, MetadataService, InputGuard, RoutePermissionGuard],
})
export class FhirModule implements NestModule {
  constructor(private readonly cors: CorsPolicy) {}

  /**
   * CORS ahead of everything (a preflight carries no token); then, after the root module's
   * middleware (global modules' run first: the audit record, identity, the body), content
   * negotiation on every `/fhir` route, `/metadata` included.
   */
  configure(consumer: MiddlewareConsumer): void {
    this.cors.install();
    consumer.apply(FormatNegotiation).forRoutes('fhir', 'fhir/*path');
  }
}

/**
 * The `/fhir/:type…` routes. Imported last by the root module: Nest registers routes module by
 * module, and the features' own routes under `/fhir` (`$sign`, `$print`, the audit's
 * AuditEvent search) must come before the generic ones.
 */
@Module({
  imports: [FhirModule, AuditModule],
  controllers: [FhirController],
})
export class FhirRoutesModule {}

import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { IdentityModule } from '../identity/identity.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { FhirBundleService } from './fhir-bundle.service.js';
import { FhirController } from './fhir.controller.js';
import { FhirService } from './fhir.service.js';
import { HeaderLimit } from './header-limit.js';
import { InputGuard } from './input-guard.middleware.js';
import { MetadataService } from './metadata.service.js';
import { ResourceValidator } from './resource.validator.js';
import { RoutePermissionGuard } from './route-permission.js';

/**
 * The FHIR R4 REST facade at `/fhir`: routing, validation, Bundles, OperationOutcome, the
 * capability statement. Depends on two abstractions, the access port (`FhirAccess`) and the
 * write chain (`WriteChain`, composed by the root module), never on governance or disputes.
 * Its routes are `FhirRoutesModule`'s, which the root module imports last.
 */
@Module({
  imports: [IdentityModule, PolicyModule, AuditModule, StoreModule],
  providers: [FhirService, FhirBundleService, MetadataService, ResourceValidator, InputGuard, HeaderLimit, RoutePermissionGuard],
  exports: [FhirService, FhirBundleService, MetadataService, InputGuard, RoutePermissionGuard],
})
export class FhirModule {}

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

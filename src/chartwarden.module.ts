import { ConfigurableModuleBuilder, Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { Clock, SystemClock } from './common/clock.js';
import type { ChartWardenOptions } from './config/chartwarden.options.js';
import { ChartWardenDatabase } from './database/chartwarden-database.js';
import { FhirBodyMiddleware } from './fhir/fhir-body.middleware.js';
import { InputGuard } from './fhir/input-guard.middleware.js';
import { HeaderLimit } from './fhir/header-limit.js';
import { FhirBundleService } from './fhir/fhir-bundle.service.js';
import { FhirController } from './fhir/fhir.controller.js';
import { FhirService } from './fhir/fhir.service.js';
import { FhirSettings } from './fhir/fhir.settings.js';
import { MetadataService } from './fhir/metadata.service.js';
import { ResourceValidator } from './fhir/resource.validator.js';
import { BearerAuthGuard, bearerAuthMiddleware } from './identity/bearer-auth.guard.js';
import { sendRecordedError } from './fhir/fhir-response.js';
import { AuditLog } from './audit/audit-log.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditReaderService } from './audit/audit-reader.service.js';
import { AuditRecorder } from './audit/audit-recorder.js';
import { AuditWriteJournal } from './audit/audit-write-journal.js';
import { AuditCheckpointScheduler } from './audit/checkpoint-scheduler.js';
import { WriteJournal, WriteJournals } from './fhir/write-journal.port.js';
import { DocumentTypes } from './governance/domain/document-types.js';
import { EditLedger } from './governance/edit-ledger.js';
import { CopyPasteGuard } from './governance/copy-paste.guard.js';
import { GovernanceController } from './governance/governance.controller.js';
import { LedgerService } from './governance/ledger.service.js';
import { SigningService } from './governance/signing.service.js';
import { AmendmentService } from './governance/amendment.service.js';
import { ArchiveService } from './governance/archive.service.js';
import { OverdueService } from './governance/overdue.service.js';
import { AUDIT_DEFAULTS, DEFAULT_STATEMENT_TIMEOUT_MS } from './config/chartwarden.options.js';
import { DisputeHoldGuard } from './disputes/dispute-hold.guard.js';
import { DisputeWithholdings } from './disputes/dispute-withholdings.js';
import { DisputesController } from './disputes/disputes.controller.js';
import { DisputesService } from './disputes/disputes.service.js';
import { WithheldRecordsSource } from './policy/withheld-records.port.js';
import { CopyRequestsController, PrintController } from './release/copy-requests.controller.js';
import { CopyRequestsService } from './release/copy-requests.service.js';
import { PrintService } from './release/print.service.js';
import { TokenVerifier } from './identity/token.verifier.js';
import { loadR4Definitions } from './store/fhir-definitions.js';
import { FhirStore } from './store/fhir-store.port.js';
import { PatientCompartment } from './store/postgres/patient-compartment.js';
import { PostgresFhirStore } from './store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from './store/search/search-parameter.registry.js';
import { AccessController } from './access/access.controller.js';
import { AccessGrantRepository } from './access/access-grant.repository.js';
import { AccessGrantService } from './access/access-grant.service.js';
import { BreakGlassService } from './access/break-glass.service.js';
import { PolicyFhirAccess } from './access/policy-fhir-access.js';
import { FhirAccess } from './fhir/fhir-access.port.js';
import { AccessPolicyService } from './policy/access-policy.service.js';
import { ActiveAccessSource } from './policy/active-access.port.js';
import { ExplainService } from './policy/explain.service.js';
import { LoadedPolicy } from './policy/loaded-policy.js';
import { PolicyDocumentTypes } from './policy/policy-document-types.js';
import { PolicyReloader } from './policy/policy-reloader.js';
import { ClusterEvents } from './cluster/cluster-events.js';
import { defaultPolicyPath, loadPolicy, validatePolicy } from './policy/policy.loader.js';
import { TerminusModule } from '@nestjs/terminus';
import { HttpAdapterHost } from '@nestjs/core';
import { RequestObserver } from './observability/access-log.js';
import { HealthController } from './observability/health.controller.js';
import { createLogger } from './observability/logger.js';
import { MetricsEndpoint } from './observability/metrics.endpoint.js';
import { ChartWardenMetrics } from './observability/metrics.service.js';
import { MetricsSettings } from './observability/metrics.settings.js';
import { OperationalCounts } from './observability/operational-counts.js';
import { ReadinessIndicators } from './observability/readiness.indicators.js';

/** `forRoot(options)` / `forRootAsync({ useFactory, inject })`, built by Nest's ConfigurableModuleBuilder. */
export const {
  ConfigurableModuleClass: ChartWardenConfigurableModule,
  MODULE_OPTIONS_TOKEN: CHARTWARDEN_OPTIONS,
} = new ConfigurableModuleBuilder<ChartWardenOptions>().setClassMethodName('forRoot').build();

/**
 * ChartWarden as a Nest module: the FHIR R4 facade at `/fhir`, bearer-token identity, and
 * the embedded PostgreSQL FHIR store (migrations applied at start-up). A HIS embeds it with
 * `ChartWardenModule.forRoot({ databaseUrl, dataDir, identity, fhir })`; the standalone
 * server (`src/main.ts`) is this module and nothing else.
 */
@Module({
  // Health probes (issue #14); a failing probe is reported by its 503 and the access log, not by terminus's own log.
  imports: [TerminusModule.forRoot({ logger: false })],
  // AuditController, GovernanceController and PrintController first: their /fhir routes must win over FhirController's /fhir/:type….
  controllers: [AuditController, GovernanceController, PrintController, FhirController, AccessController, DisputesController, CopyRequestsController, HealthController],
  providers: [
    {
      provide: LoadedPolicy,
      inject: [CHARTWARDEN_OPTIONS],
      useFactory: (o: ChartWardenOptions) => {
        const types = loadR4Definitions();
        if (o.policy && typeof o.policy === 'object') return new LoadedPolicy(validatePolicy(o.policy, types, 'options.policy'));
        const path = o.policy ?? defaultPolicyPath();
        return new LoadedPolicy(loadPolicy(path, types), path);
      },
    },
    // Cache invalidations between the instances on one database, and the policy reload (decision 0012).
    ClusterEvents,
    PolicyReloader,
    AccessGrantRepository,
    { provide: ActiveAccessSource, useExisting: AccessGrantRepository },
    DisputeWithholdings,
    { provide: WithheldRecordsSource, useExisting: DisputeWithholdings },
    AccessPolicyService,
    BreakGlassService,
    AccessGrantService,
    ExplainService,
    { provide: FhirAccess, useClass: PolicyFhirAccess },
    { provide: Clock, useClass: SystemClock },
    {
      provide: ChartWardenDatabase,
      inject: [CHARTWARDEN_OPTIONS],
      // Requests run as a role that owns nothing and cannot switch the append-only triggers off (R-21, decision 0011).
      useFactory: (o: ChartWardenOptions) =>
        ChartWardenDatabase.connect(o.databaseUrl, o.databasePoolSize, o.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS, { as: 'application', url: o.applicationDatabaseUrl }),
    },
    {
      provide: SearchParameterRegistry,
      useFactory: () => {
        loadR4Definitions();
        return SearchParameterRegistry.fromProfiles();
      },
    },
    { provide: PatientCompartment, useFactory: () => PatientCompartment.fromProfiles() },
    {
      provide: FhirStore,
      inject: [ChartWardenDatabase, SearchParameterRegistry, PatientCompartment, Clock],
      useFactory: (db: ChartWardenDatabase, registry: SearchParameterRegistry, compartment: PatientCompartment, clock: Clock) =>
        new PostgresFhirStore(db, registry, compartment, clock),
    },
    {
      provide: TokenVerifier,
      inject: [CHARTWARDEN_OPTIONS],
      useFactory: (o: ChartWardenOptions) => TokenVerifier.create(o.identity ?? {}, o.dataDir),
    },
    { provide: FhirSettings, inject: [CHARTWARDEN_OPTIONS], useFactory: (o: ChartWardenOptions) => new FhirSettings(o.fhir) },
    {
      provide: AuditLog,
      inject: [ChartWardenDatabase, CHARTWARDEN_OPTIONS],
      useFactory: (db: ChartWardenDatabase, o: ChartWardenOptions) =>
        new AuditLog(db, o.audit?.chains ?? AUDIT_DEFAULTS.chains, o.audit?.maxBatch ?? AUDIT_DEFAULTS.maxBatch, o.audit?.lanes ?? AUDIT_DEFAULTS.lanes),
    },
    AuditRecorder,
    AuditReaderService,
    AuditWriteJournal,
    {
      provide: AuditCheckpointScheduler,
      inject: [ChartWardenDatabase, Clock, CHARTWARDEN_OPTIONS],
      useFactory: (db: ChartWardenDatabase, clock: Clock, o: ChartWardenOptions) => new AuditCheckpointScheduler(db, clock, o.dataDir, o.checkpoint),
    },
    {
      provide: DocumentTypes,
      inject: [LoadedPolicy],
      // Always the policy in force: a reloaded documentTypeMap applies without a restart.
      useFactory: (policy: LoadedPolicy) => new PolicyDocumentTypes(policy),
    },
    EditLedger,
    LedgerService,
    SigningService,
    AmendmentService,
    ArchiveService,
    OverdueService,
    // The legal hold first, then the copy-paste check and the edit ledger (each may refuse the
    // write), then the audit entry.
    DisputeHoldGuard,
    CopyPasteGuard,
    {
      provide: WriteJournal,
      inject: [DisputeHoldGuard, CopyPasteGuard, EditLedger, AuditWriteJournal],
      useFactory: (hold: DisputeHoldGuard, copies: CopyPasteGuard, ledger: EditLedger, audit: AuditWriteJournal) => new WriteJournals([hold, copies, ledger, audit]),
    },
    DisputesService,
    CopyRequestsService,
    PrintService,
    BearerAuthGuard,
    InputGuard,
    HeaderLimit,
    ResourceValidator,
    FhirService,
    FhirBundleService,
    MetadataService,
    // Observability (issue #14): probes, metrics, the access log.
    { provide: MetricsSettings, inject: [CHARTWARDEN_OPTIONS], useFactory: (o: ChartWardenOptions) => new MetricsSettings(o.metrics) },
    OperationalCounts,
    ChartWardenMetrics,
    MetricsEndpoint,
    ReadinessIndicators,
    {
      provide: RequestObserver,
      inject: [ChartWardenMetrics, LoadedPolicy, HttpAdapterHost, CHARTWARDEN_OPTIONS],
      useFactory: (metrics: ChartWardenMetrics, policy: LoadedPolicy, adapterHost: HttpAdapterHost, o: ChartWardenOptions) =>
        new RequestObserver(metrics, policy, adapterHost, o.logging ? createLogger(o.logging) : undefined),
    },
  ],
  exports: [FhirStore, TokenVerifier, Clock, AccessPolicyService],
})
export class ChartWardenModule extends ChartWardenConfigurableModule implements NestModule {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly recorder: AuditRecorder,
    private readonly inputGuard: InputGuard,
    private readonly requests: RequestObserver,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    // Bad characters in the URL or headers are refused first of all, ahead of the router (input-guard.middleware.ts).
    // The access log and request metrics first of all, so they see the requests the input guard refuses too.
    this.requests.install();
    this.inputGuard.install();
    // The request's id and audit record first (R-20: even a refused request is recorded), then
    // identity, then the body: an anonymous caller's body is never read.
    consumer
      .apply(this.recorder.begin)
      .forRoutes(
        { path: 'fhir/*path', method: RequestMethod.ALL },
        { path: 'access/*path', method: RequestMethod.ALL },
        { path: 'audit/*path', method: RequestMethod.ALL },
        { path: 'governance/*path', method: RequestMethod.ALL },
        { path: 'disputes/*path', method: RequestMethod.ALL },
        { path: 'disputes', method: RequestMethod.ALL },
        { path: 'copy-requests/*path', method: RequestMethod.ALL },
        { path: 'copy-requests', method: RequestMethod.ALL },
        { path: 'fhir', method: RequestMethod.ALL },
      );
    consumer
      .apply(this.inputGuard.use, bearerAuthMiddleware(this.verifier, (res, e) => void sendRecordedError(this.recorder, res, e)), FhirBodyMiddleware)
      .exclude({ path: 'fhir/metadata', method: RequestMethod.GET })
      // Two wildcard routes rather than the controllers: Nest would add one layer per route, and
      // Express walks every layer on every request.
      .forRoutes(
        { path: 'fhir/*path', method: RequestMethod.ALL },
        { path: 'access/*path', method: RequestMethod.ALL },
        { path: 'audit/*path', method: RequestMethod.ALL },
        { path: 'governance/*path', method: RequestMethod.ALL },
        { path: 'disputes/*path', method: RequestMethod.ALL },
        { path: 'disputes', method: RequestMethod.ALL },
        { path: 'copy-requests/*path', method: RequestMethod.ALL },
        { path: 'copy-requests', method: RequestMethod.ALL },
        { path: 'fhir', method: RequestMethod.ALL },
      );
  }
}

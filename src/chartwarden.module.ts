import { Module, RequestMethod, type MiddlewareConsumer, type NestModule, type Type } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { AccessModule } from './access/access.module.js';
import { PolicyAuditTrailAccess } from './access/policy-audit-trail-access.js';
import { PolicyFhirAccess } from './access/policy-fhir-access.js';
import { AccessGrantRepository } from './access/access-grant.repository.js';
import { AuditModule } from './audit/audit.module.js';
import { AuditRecorder } from './audit/audit-recorder.js';
import { AuditTrailAccess } from './audit/audit-trail-access.port.js';
import { AuditWriteJournal } from './audit/audit-write-journal.js';
import { verifyAuditChains } from './audit/audit-verifier.js';
import { IntegrityChecks, SnapshotIntegrityChecks } from './audit/integrity-checks.port.js';
import { PatientsByRecordNumber } from './audit/patient-lookup.port.js';
import { patientsWithRecordNumber } from './copies/record-number-lookup.js';
import { ClusterEvents } from './cluster/cluster-events.js';
import { ConsoleController } from './console/console.controller.js';
import { ConsoleModule } from './console/console.module.js';
import { Clock, SystemClock } from './common/clock.js';
import { fitBodyParsing, fitWildcardRoutes } from './common/http-platform.js';
import { DEFAULT_STATEMENT_TIMEOUT_MS, type ChartWardenOptions } from './config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS, ChartWardenConfigurableModule } from './config/module-options.js';
import { ChartWardenDatabase } from './database/chartwarden-database.js';
import { DisputeHoldGuard } from './disputes/dispute-hold.guard.js';
import { DisputeWithholdings } from './disputes/dispute-withholdings.js';
import { DisputesModule } from './disputes/disputes.module.js';
import { FhirBodyMiddleware } from './fhir/fhir-body.middleware.js';
import { FhirAccess } from './fhir/fhir-access.port.js';
import { sendRecordedError } from './fhir/fhir-response.js';
import { EmbeddingModule } from './embedding/embedding.module.js';
import { FhirController } from './fhir/fhir.controller.js';
import { FhirModule, FhirRoutesModule } from './fhir/fhir.module.js';
import { FhirSettings } from './fhir/fhir.settings.js';
import { InputGuard } from './fhir/input-guard.middleware.js';
import { WRITE_GUARDS, WRITE_RECORDERS, type WriteGuard, type WriteRecorder } from './fhir/write-chain.port.js';
import { WriteChain } from './fhir/write-chain.js';
import { LedgerHeads } from './audit/ledger-heads.port.js';
import { LedgerCheckpointHeads, LedgerVerifier } from './governance/ledger-verifier.js';
import { NO_PROGRESS } from './common/progress.js';
import { PostgresRecordIndex } from './store/postgres/postgres-record-index.js';
import { LedgerReadsRepository } from './governance/ledger-reads.repository.js';
import { ArchiveGuard } from './governance/archive.guard.js';
import { CopyPasteGuard } from './governance/copy-paste.guard.js';
import { EditLedgerRecorder } from './governance/edit-ledger.js';
import { EditWindowGuard } from './governance/edit-window.guard.js';
import { FingerprintRecorder } from './governance/fingerprint.recorder.js';
import { ReasonRequiredGuard } from './governance/reason-required.guard.js';
import { GovernanceModule } from './governance/governance.module.js';
import { bearerAuthMiddleware } from './identity/bearer-auth.guard.js';
import { IdentityModule } from './identity/identity.module.js';
import { TokenVerifier } from './identity/token.verifier.js';
import { RequestObserver } from './observability/access-log.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { ActiveAccessSource } from './policy/active-access.port.js';
import { LoadedPolicy } from './policy/loaded-policy.js';
import { HospitalTimeZone } from './common/hospital-time.js';
import { defaultPolicyPath, loadPolicy, validatePolicy } from './policy/policy.loader.js';
import { PolicyModule } from './policy/policy.module.js';
import { WithheldRecordsSource } from './policy/withheld-records.port.js';
import { ReleaseModule } from './release/release.module.js';
import { CHARTWARDEN_ENTITIES } from './schema.js';
import { loadR4Definitions } from './store/fhir-definitions.js';
import { StoreModule } from './store/store.module.js';
import { FhirStore } from './store/fhir-store.port.js';

export { CHARTWARDEN_OPTIONS, ChartWardenConfigurableModule };

/** Every prefix ChartWarden serves requests under (the audit record and identity run on all of them). */
const ROUTES: { path: string; method: RequestMethod }[] = ['fhir', 'fhir/*path', 'access/*path', 'audit/*path', 'governance/*path', 'disputes', 'disputes/*path', 'copy-requests', 'copy-requests/*path'].map(
  (path) => ({ path, method: RequestMethod.ALL }),
);

/**
 * The controllers whose routes end in a wildcard (`*path`), fitted to the platform's router
 * (`fitWildcardRoutes`); test/architecture/route-permissions.arch-spec.ts holds every other to none.
 */
export const WILDCARD_CONTROLLERS: readonly Type[] = [FhirController, ConsoleController];

/**
 * ChartWarden as a Nest module: one module per feature (docs/decisions/0013), composed here.
 * This module binds what every feature shares: the options, the clock, the database, the
 * policy in force, and the ports features implement for one another (the FHIR access port,
 * grants and holds for the policy, the write chain). A HIS embeds it with
 * `ChartWardenModule.forRoot({ databaseUrl, dataDir, identity, fhir })`; the standalone server
 * (`src/main.ts`) is this module and nothing else.
 */
@Module({
  imports: [
    IdentityModule,
    StoreModule,
    PolicyModule,
    AuditModule,
    AccessModule,
    GovernanceModule,
    DisputesModule,
    ReleaseModule,
    ObservabilityModule,
    FhirModule,
    // The actor-bound client a host injects instead of the store (`chartwarden.as(actor)`).
    EmbeddingModule,
    // The staff console at /console (issue #18): the browser app, its configuration and the dev sign-in.
    ConsoleModule,
    // Last: the generic /fhir/:type… routes after every feature's own /fhir routes.
    FhirRoutesModule,
  ],
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
    { provide: Clock, useClass: SystemClock },
    {
      provide: ChartWardenDatabase,
      inject: [CHARTWARDEN_OPTIONS],
      // Requests run as a role that owns nothing and cannot switch the append-only triggers off (R-21, decision 0011).
      useFactory: (o: ChartWardenOptions) =>
        ChartWardenDatabase.connect(o.databaseUrl, o.databasePoolSize, o.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS, { as: 'application', url: o.applicationDatabaseUrl }, CHARTWARDEN_ENTITIES),
    },
    { provide: FhirSettings, inject: [CHARTWARDEN_OPTIONS], useFactory: (o: ChartWardenOptions) => new FhirSettings(o.fhir) },
    // Cache invalidations between the instances on one database, and the policy reload (decision 0012).
    ClusterEvents,
    // The ports features implement for one another.
    { provide: ActiveAccessSource, useExisting: AccessGrantRepository },
    { provide: WithheldRecordsSource, useExisting: DisputeWithholdings },
    { provide: FhirAccess, useExisting: PolicyFhirAccess },
    // The days of audit's access report and the times in its messages: the hospital's zone in force (policy settings.timeZone),
    // through audit's port, so the trail's code never reads the policy.
    { provide: HospitalTimeZone, useExisting: LoadedPolicy },
    { provide: AuditTrailAccess, useExisting: PolicyAuditTrailAccess },
    // The write chain (decision 0013): before the write, the legal hold first, then archive, the
    // edit window, the reason, copy-paste, then the hospital's own guards; after it, the
    // fingerprints, the ledger entry, then the audit entry.
    {
      provide: WRITE_GUARDS,
      inject: [DisputeHoldGuard, ArchiveGuard, EditWindowGuard, ReasonRequiredGuard, CopyPasteGuard, CHARTWARDEN_OPTIONS, ModuleRef],
      // Frozen: whoever is handed the list cannot take a guard out of the chain (nor `WriteChain`, which keeps its own copy).
      useFactory: async (...args: [...WriteGuard[], ChartWardenOptions, ModuleRef]): Promise<readonly WriteGuard[]> => {
        const moduleRef = args.pop() as ModuleRef;
        const options = args.pop() as ChartWardenOptions;
        return Object.freeze([...(args as WriteGuard[]), ...(await hospitalGuards(options.writeGuards ?? [], moduleRef))]);
      },
    },
    {
      provide: WRITE_RECORDERS,
      inject: [FingerprintRecorder, EditLedgerRecorder, AuditWriteJournal],
      useFactory: (...recorders: WriteRecorder[]): readonly WriteRecorder[] => Object.freeze([...recorders]),
    },
    // Every write runs through this one chain; features and the FHIR facade get the chain, never its lists.
    WriteChain,
    // The edit ledger's heads for the signed audit checkpoints: audit asks, governance answers.
    { provide: LedgerHeads, inject: [ChartWardenDatabase], useFactory: (db: ChartWardenDatabase) => new LedgerCheckpointHeads(LedgerReadsRepository.over(db)) },
    // The access report by 病案号 (R-20): the store's patients, the papers' definition of the number (copies) under the policy's systems
    // in force (read at each lookup, so a policy reload counts); audit asks, knowing neither the store nor the policy.
    {
      provide: PatientsByRecordNumber,
      inject: [FhirStore, LoadedPolicy],
      useFactory: (store: FhirStore, policy: LoadedPolicy): PatientsByRecordNumber => ({
        patientsWith: (recordNumber) => patientsWithRecordNumber(store.records, recordNumber, policy.medicalRecordNumberSystems),
      }),
    },
    // The checks of the integrity runs auditors start (issue #18): `audit verify` and `ledger verify` as the CLI runs them, each on a
    // connection of its own as the application role (outside the request pool and its statement timeout), in one snapshot.
    {
      provide: IntegrityChecks,
      inject: [ChartWardenDatabase],
      useFactory: (db: ChartWardenDatabase) =>
        new SnapshotIntegrityChecks(() => db.dedicatedClient('chartwarden-integrity-check'), {
          audit: (connection) => verifyAuditChains(connection),
          ledger: (connection) => new LedgerVerifier(LedgerReadsRepository.overClient(connection), PostgresRecordIndex.overClient(connection)).verify(undefined, NO_PROGRESS),
        }),
    },
  ],
  // Global: the shared bindings reach every feature module. A host gets the token verifier, the
  // policy's decisions and the actor-bound client, never the store itself (a write through it
  // would skip the policy, the hold, the ledger and the audit trail).
  exports: [
    CHARTWARDEN_OPTIONS,
    LoadedPolicy,
    Clock,
    ChartWardenDatabase,
    FhirSettings,
    ClusterEvents,
    ActiveAccessSource,
    WithheldRecordsSource,
    FhirAccess,
    AuditTrailAccess,
    // The chain, not its lists: hosts add guards with `forRoot({ writeGuards })`.
    WriteChain,
    LedgerHeads,
    HospitalTimeZone,
    IntegrityChecks,
    PatientsByRecordNumber,
    IdentityModule,
    PolicyModule,
    EmbeddingModule,
  ],
})
export class ChartWardenModule extends ChartWardenConfigurableModule implements NestModule {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly recorder: AuditRecorder,
    private readonly inputGuard: InputGuard,
    private readonly requests: RequestObserver,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    // Express or Fastify, as the host chose (decision 0021): route wildcards and body parsing fitted to it.
    const adapter = this.adapterHost.httpAdapter as HttpAdapterHost['httpAdapter'] | undefined;
    fitWildcardRoutes(adapter?.getType(), WILDCARD_CONTROLLERS);
    fitBodyParsing(adapter);
    // The access log and request metrics first of all, so they see the requests the input guard refuses too;
    // then bad characters in the URL or headers are refused, ahead of the router (input-guard.middleware.ts).
    this.requests.install();
    this.inputGuard.install();
    // The request's id and audit record first (R-20: even a refused request is recorded), then
    // identity, then the body: an anonymous caller's body is never read.
    consumer.apply(this.recorder.begin).forRoutes(...ROUTES);
    consumer
      .apply(this.inputGuard.use, bearerAuthMiddleware(this.verifier, (res, e) => void sendRecordedError(this.recorder, res, e)), FhirBodyMiddleware)
      // Public: what the server supports, and SMART's discovery document (both describe; neither discloses a record).
      .exclude({ path: 'fhir/metadata', method: RequestMethod.GET }, { path: 'fhir/.well-known/smart-configuration', method: RequestMethod.GET })
      // Wildcard routes rather than the controllers: Nest would add one layer per route, and
      // Express walks every layer on every request.
      .forRoutes(...ROUTES);
  }
}

/**
 * The hospital's own write guards (`forRoot({ writeGuards })`), in the order given: a class is
 * built by Nest's injector in this module's scope, so it may inject what ChartWarden exports
 * (the clock, the policy in force, the actor-bound client); an instance is used as given.
 */
async function hospitalGuards(guards: readonly (Type<WriteGuard> | WriteGuard)[], moduleRef: ModuleRef): Promise<WriteGuard[]> {
  return Promise.all(guards.map((guard) => (typeof guard === 'function' ? moduleRef.create(guard) : guard)));
}

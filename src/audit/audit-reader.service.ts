import { Injectable } from '@nestjs/common';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { HospitalTimeZone } from '../common/hospital-time.js';
import { pagingLinks } from '../fhir/bundle.builder.js';
import { queryPairs, type FhirContext } from '../fhir/fhir-request.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { checkSearchCost } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { AccessReportError, AccessReportErrorCode, type AccessReport } from './access-report.js';
import { assertAuditSearchParameters, parseAuditSearch, patientsNamed, reportBoundary, stripType } from './audit-search.js';
import type { AuditTrailScope } from './audit-trail-access.port.js';
import { AuditTrailRepository } from './audit-trail.repository.js';
import type { AuditEntry } from './domain/audit-entry.js';
import { toAuditEvent } from './domain/balp.js';
import type { ReportSubject } from './dto/access-report.dto.js';
import { PatientsByRecordNumber } from './patient-lookup.port.js';

export type { AccessReport, AccessReportRow } from './access-report.js';

/** An AuditEvent id: `<chain>-<seq>`. */
const EVENT_ID = /^(\d{1,5})-(\d{1,18})$/;

/**
 * Reading the audit trail: `GET /fhir/AuditEvent` as BALP AuditEvents, and the
 * patient's access report. What the caller reads is the `AuditTrailScope` the policy gave
 * (auditors: everything; the record room: the accounting of accesses to one patient, who must
 * be named); the reader applies it and records the decision on the request's audit entry.
 */
@Injectable()
export class AuditReaderService {
  constructor(
    private readonly entries: AuditTrailRepository,
    private readonly settings: FhirSettings,
    private readonly zone: HospitalTimeZone,
    private readonly byRecordNumber: PatientsByRecordNumber,
  ) {}

  async search(ctx: FhirContext, query: string, scope: AuditTrailScope): Promise<Bundle> {
    const pairs = queryPairs(query);
    checkSearchCost(pairs, { maxValuesPerParameter: this.settings.maxValuesPerParameter, maxSearchParameters: this.settings.maxSearchParameters });
    assertAuditSearchParameters(pairs);
    const patients = patientsNamed(pairs);
    admit(ctx, scope, patients);
    const { criteria, count, offset } = parseAuditSearch(pairs, this.settings, this.zone.timeZone);
    const { entries, total } = await this.entries.search(criteria, count, offset);
    ctx.audit?.concerns(patients);
    const base = ctx.baseUrl;
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total,
      link: pagingLinks({
        url: `${base}/AuditEvent`,
        params: pairs.filter(([k]) => k !== '_count' && k !== '_offset'),
        count,
        offset,
        total,
        full: entries.length === count,
      }),
      entry: entries.map((r) => {
        const id = `${r.chain}-${r.seq}`;
        return { fullUrl: `${base}/AuditEvent/${id}`, resource: eventOf(id, r), search: { mode: 'match' } };
      }),
    };
  }

  async read(ctx: FhirContext, id: string, scope: AuditTrailScope): Promise<AuditEvent> {
    const m = EVENT_ID.exec(id);
    const row = m ? await this.entries.entry(Number(m[1]), m[2]) : undefined;
    const notFound = () => new StoreError(StoreErrorCode.NotFound, `AuditEvent/${id} is not known`);
    if (scope.reads === 'all') {
      ctx.audit?.decided(scope.wholeTrail, row?.patient ?? undefined);
      if (!row) throw notFound();
      return eventOf(id, row);
    }
    if (scope.reads === 'nothing') {
      ctx.audit?.decided(scope.wholeTrail, undefined);
      throw scope.refusal('not-allowed');
    }
    // The record room reads entries about a patient only; any other entry is "not known", like a missing id.
    if (!row?.patient) {
      ctx.audit?.decided({ ...scope.accounting, allowed: false }, undefined);
      throw notFound();
    }
    ctx.audit?.decided(scope.accounting, row.patient);
    return eventOf(id, row);
  }

  /**
   * "Who looked at my record": accesses to one patient's records, per actor and day of the
   * hospital's clock. The patient is named by id, or by 病案号 (looked up through
   * `PatientsByRecordNumber`; the report then says the number it was asked for by).
   */
  async accessReport(ctx: FhirContext, subject: ReportSubject, period: { from?: string; to?: string }, scope: AuditTrailScope): Promise<AccessReport> {
    const id = 'patient' in subject ? stripType(subject.patient, 'Patient') : await this.patientOf(ctx, subject.recordNumber, scope);
    const { from, to } = period;
    admit(ctx, scope, [id]);
    ctx.audit?.concerns([id]);
    const timeZone = this.zone.timeZone;
    const bounds = { ...(from ? { from: reportBoundary(from, 'from', timeZone) } : {}), ...(to ? { to: reportBoundary(to, 'to', timeZone) } : {}) };
    const rows = await this.entries.accessReport(id, bounds, timeZone);
    const asked = 'recordNumber' in subject ? { recordNumber: subject.recordNumber } : {};
    return { patient: `Patient/${id}`, ...asked, ...(from ? { from } : {}), ...(to ? { to } : {}), rows };
  }

  /**
   * The one patient whose 病案号 is `recordNumber`. An operator who reads nothing of the trail is
   * refused before the lookup (they learn nothing of who has the number); a lookup that finds
   * nobody, or several, answers 404 or 409 naming no patient, recorded under the scope's decision.
   */
  private async patientOf(ctx: FhirContext, recordNumber: string, scope: AuditTrailScope): Promise<string> {
    if (scope.reads === 'nothing') admit(ctx, scope, []);
    const found = await this.byRecordNumber.patientsWith(recordNumber);
    if (found.length === 1) return found[0];
    ctx.audit?.decided(scope.reads === 'all' ? scope.wholeTrail : scope.accounting, undefined);
    if (found.length === 0) throw new AccessReportError(AccessReportErrorCode.UnknownRecordNumber, 'No patient has this 病案号 (recordNumber)');
    throw new AccessReportError(
      AccessReportErrorCode.AmbiguousRecordNumber,
      'More than one patient has this 病案号 (recordNumber): it does not say whose report to give; ask for it by the patient id (patient=Patient/<id>)',
    );
  }
}

/**
 * Applies the scope to a search or report naming `patients`: auditors read everything; the
 * record room reads the accounting of exactly one named patient. The decision is recorded on
 * the request's entry, with the patient when exactly one is named.
 */
function admit(ctx: FhirContext, scope: AuditTrailScope, patients: readonly string[]): void {
  if (scope.reads === 'all') {
    ctx.audit?.decided(scope.wholeTrail, patients.length === 1 ? patients[0] : undefined);
    return;
  }
  const one = patients.length === 1 && !patients[0].includes(',');
  const admitted = scope.reads === 'one-patient' && one;
  ctx.audit?.decided(admitted ? scope.accounting : { ...scope.accounting, allowed: false }, one ? patients[0] : undefined);
  if (admitted) return;
  throw scope.refusal(scope.reads === 'one-patient' ? 'one-patient-at-a-time' : 'not-allowed');
}

function eventOf(id: string, row: { content: string; hash: Buffer }): AuditEvent {
  return toAuditEvent(id, JSON.parse(row.content) as AuditEntry, row.hash.toString('hex'));
}

import { Controller, Get, Param, Post, Put, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HttpReq, header, rawResponse, setHeaders, queryString, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf, POLICY_REFUSAL } from '../common/api-errors.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { formText, type FhirContext } from '../fhir/fhir-request.js';
import { sendRecorded } from '../fhir/fhir-response.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { AccessReportError, AccessReportErrorCode, csvFileName, toCsv } from './access-report.js';
import { AuditReaderService } from './audit-reader.service.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditTrailAccess } from './audit-trail-access.port.js';
import { parseAccessReportQuery, RECORD_NUMBER_MAX_LENGTH, wantsCsv } from './dto/access-report.dto.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';

/** Who decides a read of the trail: the policy, through the port, entry by entry (an entry's patient counts). */
const DECIDED_BY = 'AuditTrailAccess';
/** Writes to the trail are refused to every caller, whatever their roles. */
const REFUSED_TO_ALL = 'AuditController (R-21: no caller writes the trail)';

/**
 * The audit trail as FHIR (`/fhir/AuditEvent`, IHE BALP, R-22) and the patient's access
 * report (`/audit/access-report`). Registered before the FHIR controller so its routes win
 * over `/fhir/:type`. Reading the trail is itself recorded; what a caller reads is the scope
 * `AuditTrailAccess` gives (the policy's decision, made outside audit).
 */
@Controller()
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class AuditController {
  constructor(
    private readonly reader: AuditReaderService,
    private readonly access: AuditTrailAccess,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Get('fhir/AuditEvent')
  @Permission.record(DECIDED_BY)
  async search(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse) {
    const ctx = this.ctx(req);
    await sendRecorded(this.recorder, res, { status: 200, body: await this.reader.search(ctx, queryString(req), this.access.scopeOf(ctx.actor)) });
  }

  @Post('fhir/AuditEvent/_search')
  @Permission.record(DECIDED_BY)
  async searchByPost(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse) {
    const query = [queryString(req), formText(req.body)].filter(Boolean).join('&');
    const ctx = this.ctx(req);
    await sendRecorded(this.recorder, res, { status: 200, body: await this.reader.search(ctx, query, this.access.scopeOf(ctx.actor)) });
  }

  @Get('fhir/AuditEvent/:id')
  @Permission.record(DECIDED_BY)
  async read(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string) {
    const ctx = this.ctx(req);
    const event = await this.reader.read(ctx, id, this.access.scopeOf(ctx.actor));
    await sendRecorded(this.recorder, res, { status: 200, body: event, headers: { ETag: 'W/"1"' } });
  }

  /** The trail is written by ChartWarden alone: no client creates, changes or deletes an entry. */
  @Post('fhir/AuditEvent')
  @Permission.record(REFUSED_TO_ALL)
  create() {
    return refuseWrite();
  }

  @Put('fhir/AuditEvent/:id')
  @Permission.record(REFUSED_TO_ALL)
  update() {
    return refuseWrite();
  }

  /** "Who looked at my record", by the patient's id or 病案号: JSON, or CSV with `Accept: text/csv` or `_format=csv`. */
  @Get('audit/access-report')
  @Permission.record(DECIDED_BY)
  // The one workflow route here (the AuditEvent routes are the FHIR API, described by the CapabilityStatement).
  @ApiTags('audit')
  @ApiBearerAuth()
  @ApiOperation({
    summary: '"Who looked at my record" (R-20): accesses to one patient\'s records per actor and day; auditors, or the record room for one patient',
    description: 'The patient is named by id (`patient`) or by 病案号 (`recordNumber`), never both; the JSON report then also says the 病案号 it was asked for by.',
  })
  @ApiQuery({ name: 'patient', required: false, example: 'Patient/p1', description: 'The patient (`Patient/<id>` or `<id>`); exactly one of patient and recordNumber' })
  @ApiQuery({
    name: 'recordNumber',
    required: false,
    example: 'MR20240001',
    description:
      `The patient's 病案号 (medical-record number): an identifier in one of the policy's settings.medicalRecordNumberSystems, or of type MR (v2-0203); ` +
      `at most ${RECORD_NUMBER_MAX_LENGTH} characters; exactly one of patient and recordNumber. No patient with it: 404; several: 409 (ask by patient id)`,
  })
  @ApiQuery({ name: 'from', required: false, description: 'A date (YYYY-MM-DD) or an instant' })
  @ApiQuery({ name: 'to', required: false, description: 'A date (YYYY-MM-DD) or an instant' })
  @ApiQuery({ name: '_format', required: false, enum: ['json', 'csv'] })
  @ApiSuccess(200, 'The report as JSON, or CSV with Accept: text/csv or _format=csv', {
    'application/fhir+json': ANSWER_SCHEMA.object,
    'text/csv': { type: 'string' },
  })
  @ApiErrors(
    errorsOf(FhirRequestError, FhirRequestErrorCode.InvalidRequest),
    errorsOf(AccessReportError, AccessReportErrorCode.UnknownRecordNumber, AccessReportErrorCode.AmbiguousRecordNumber),
    errorsOf(StoreError, StoreErrorCode.SearchTooCostly),
    POLICY_REFUSAL,
  )
  async accessReport(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Query() query: unknown) {
    const input = parseAccessReportQuery(query);
    const ctx = this.ctx(req);
    const report = await this.reader.accessReport(ctx, input.subject, input, this.access.scopeOf(ctx.actor));
    if (!wantsCsv(input, header(req, 'accept'))) {
      await sendRecorded(this.recorder, res, { status: 200, json: JSON.stringify(report) });
      return;
    }
    await this.recorder.record(req, { status: 200 });
    const csv = rawResponse(res);
    csv.statusCode = 200;
    setHeaders(csv, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${csvFileName(report)}"` });
    csv.end(toCsv(report));
  }

  private ctx(req: HttpRequest): FhirContext {
    return fhirContext(req, this.settings);
  }
}

function refuseWrite(): never {
  throw new FhirRequestError(
    FhirRequestErrorCode.MethodNotSupported,
    'The audit trail is written by ChartWarden alone: AuditEvents cannot be created, changed or deleted through the API (R-21)',
  );
}

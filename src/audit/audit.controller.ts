import { Controller, Get, Param, Post, Put, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { formText, queryText } from '../fhir/fhir-request.js';
import { sendRecorded } from '../fhir/fhir-response.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { search } from '../fhir/fhir.controller.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { AuditReaderService, type AccessReport } from './audit-reader.service.js';
import { AuditRecorder } from './audit-recorder.js';

/**
 * The audit trail as FHIR (`/fhir/AuditEvent`, IHE BALP, R-22) and the patient's access
 * report (`/audit/access-report`). Registered before the FHIR controller so its routes win
 * over `/fhir/:type`. Reading the trail is itself recorded.
 */
@Controller()
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class AuditController {
  constructor(
    private readonly reader: AuditReaderService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Get('fhir/AuditEvent')
  async search(@Req() req: Request, @Res() res: Response) {
    await sendRecorded(this.recorder, res, { status: 200, body: await this.reader.search(fhirContext(req, this.settings), search(req)) });
  }

  @Post('fhir/AuditEvent/_search')
  async searchByPost(@Req() req: Request, @Res() res: Response) {
    const query = [search(req), formText(req.body)].filter(Boolean).join('&');
    await sendRecorded(this.recorder, res, { status: 200, body: await this.reader.search(fhirContext(req, this.settings), query) });
  }

  @Get('fhir/AuditEvent/:id')
  async read(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const event = await this.reader.read(fhirContext(req, this.settings), id);
    await sendRecorded(this.recorder, res, { status: 200, body: event, headers: { ETag: 'W/"1"' } });
  }

  /** The trail is written by ChartWarden alone: no client creates, changes or deletes an entry. */
  @Post('fhir/AuditEvent')
  create() {
    return refuseWrite();
  }

  @Put('fhir/AuditEvent/:id')
  update() {
    return refuseWrite();
  }

  /** "Who looked at my record": JSON, or CSV with `Accept: text/csv` or `_format=csv`. */
  @Get('audit/access-report')
  async accessReport(@Req() req: Request, @Res() res: Response, @Query('patient') patient?: string, @Query('from') from?: string, @Query('to') to?: string, @Query('_format') format?: string) {
    if (!patient || typeof patient !== 'string') {
      throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'access-report needs patient=Patient/<id>', ['patient']);
    }
    const report = await this.reader.accessReport(fhirContext(req, this.settings), patient, queryText(from), queryText(to));
    const csv = format === 'csv' || format === 'text/csv' || (req.get('accept') ?? '').includes('text/csv');
    if (!csv) {
      await sendRecorded(this.recorder, res, { status: 200, json: JSON.stringify(report) });
      return;
    }
    await this.recorder.record(req, { status: 200 });
    res.status(200).set('Content-Type', 'text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="access-report-${report.patient.replace('/', '-')}.csv"`).end(toCsv(report));
  }
}

function refuseWrite(): never {
  throw new FhirRequestError(FhirRequestErrorCode.MethodNotSupported, 'The audit trail is written by ChartWarden alone: AuditEvents cannot be created, changed or deleted through the API (R-21)');
}


const CSV_COLUMNS = ['day', 'actor', 'practitioner', 'roles', 'department', 'accesses', 'reads', 'searches', 'writes', 'refused', 'first', 'last'] as const;

/** RFC 4180 CSV, one row per actor and day, with a UTF-8 BOM so spreadsheet software reads Chinese names correctly. */
export function toCsv(report: AccessReport): string {
  const cell = (v: unknown) => {
    const s = Array.isArray(v) ? v.join(' ') : v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CSV_COLUMNS.join(','), ...report.rows.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(','))];
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}

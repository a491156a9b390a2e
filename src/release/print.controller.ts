import { Controller, Get, Param, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { sendRecordedFile } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { PrintService } from './print.service.js';

/** `$print` of one record by a clinician: registered before the FHIR controller, so its route wins. */
@Controller()
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class PrintController {
  constructor(
    private readonly prints: PrintService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Get('fhir/:type/:id/$print')
  @Permission.record('FhirAccess')
  async print(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    const pdf = await this.prints.print(fhirContext(req, this.settings), type, id);
    await sendRecordedFile(this.recorder, res, { body: pdf.bytes, sha256: pdf.sha256, contentType: 'application/pdf', filename: pdf.filename });
  }
}

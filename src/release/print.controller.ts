import { Controller, Get, Param, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HttpReq, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, RECORD_ACCESS } from '../common/api-errors.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { sendRecordedFile } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { PrintService } from './print.service.js';

/** `$print` of one record by a clinician: registered before the FHIR controller, so its route wins. */
@ApiTags('print')
@ApiBearerAuth()
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
  @ApiOperation({ summary: "A clinician's print of a record's current version (R-20, R-22): a PDF watermarked with who printed it and when; the policy's `print` decides" })
  @ApiHeader({ name: 'Category', required: false, description: 'Break-the-glass (R-04): http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"' })
  @ApiHeader({ name: 'X-Break-Glass-Reason', required: false, description: 'With the Category above: the emergency that justifies breaking the glass (R-04)' })
  @ApiSuccess(200, 'The PDF (X-Content-SHA256: its SHA-256); recorded as a disclosure of the version printed', { 'application/pdf': ANSWER_SCHEMA.file })
  @ApiErrors(RECORD_ACCESS)
  async print(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    const pdf = await this.prints.print(fhirContext(req, this.settings), type, id);
    await sendRecordedFile(this.recorder, res, { body: pdf.bytes, sha256: pdf.sha256, contentType: 'application/pdf', filename: pdf.filename });
  }
}

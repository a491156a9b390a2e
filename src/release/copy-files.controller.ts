import { Controller, Get, Param, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { HttpReq, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf } from '../common/api-errors.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { COPY_CONTENT_TYPES, sendRecordedFile } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { CopyDeliveryService } from './copy-delivery.service.js';
import { RecordRoom } from './record-room.permission.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/** A copy request's produced copies, read back exactly as produced: files, sent once their reading is in the audit trail. */
@ApiTags('copy-requests')
@ApiBearerAuth()
@Controller('copy-requests')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class CopyFilesController {
  constructor(
    private readonly delivery: CopyDeliveryService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Get(':id/copies/:file')
  @RecordRoom('list')
  @ApiOperation({ summary: 'A produced copy exactly as produced: `{n}.pdf` (certified) or `{n}.json` (FHIR document Bundle)' })
  @ApiParam({ name: 'file', example: '1.pdf' })
  @ApiSuccess(200, 'The file exactly as produced (Digest and X-Content-SHA256: its SHA-256)', {
    [COPY_CONTENT_TYPES.pdf]: ANSWER_SCHEMA.file,
    'application/fhir+json': ANSWER_SCHEMA.fhirResource,
  })
  @ApiErrors(errorsOf(ReleaseError, ReleaseErrorCode.NotFound, ReleaseErrorCode.Withheld))
  async copy(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string, @Param('file') file: string) {
    const { format, ...copy } = await this.delivery.copy(fhirContext(req, this.settings), id, file);
    await sendRecordedFile(this.recorder, res, { ...copy, contentType: COPY_CONTENT_TYPES[format], filename: `copy-${id}-${file}` });
  }
}

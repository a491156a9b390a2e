import { Controller, Get, Param, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HttpReq, header, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf } from '../common/api-errors.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { COPY_CONTENT_TYPES, jsonResponse, sendRecorded, sendRecordedFile } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { inventoryQuerySchema, parseDisputeInput } from './dto/dispute.dto.js';
import { casesRefused, DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { SealedCopiesService, type SealedCopyFile } from './sealed-copies.service.js';

/**
 * A case's inventory and sealed copies, read back exactly as sealed, under
 * `/disputes`: the inventory as JSON (or the latest sealed copy's PDF), each copy's files and
 * the unseal record, sent once their reading is in the audit trail. Seeing cases is the
 * policy's `list` on Dispute; a public incident's are for its team alone.
 */
@ApiTags('disputes')
@ApiBearerAuth()
@Controller('disputes')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class SealedCopiesController {
  constructor(
    private readonly copies: SealedCopiesService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Get(':id/inventory')
  @Permission.workflow('list', 'Dispute', casesRefused)
  @ApiOperation({
    summary:
      'The inventory (封存清单) as JSON — for an open case, what sealing now would inventory, with the digest both sides confirm; `_format=pdf` (or Accept: application/pdf) gives the latest sealed copy',
  })
  @ApiQuery({ name: '_format', required: false, enum: ['json', 'pdf'] })
  @ApiSuccess(200, 'The inventory with its digest (JSON; each line sealed by a copy states `pages`, 页数: the pages it takes in that copy\'s PDF), or the latest sealed copy (PDF)', { 'application/json': ANSWER_SCHEMA.object, 'application/pdf': ANSWER_SCHEMA.file })
  @ApiErrors(errorsOf(DisputeError, DisputeErrorCode.Invalid, DisputeErrorCode.NotFound, DisputeErrorCode.Forbidden))
  async inventory(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string, @Query() query: unknown) {
    const format = parseDisputeInput(inventoryQuerySchema, query)._format;
    const ctx = fhirContext(req, this.settings);
    if (format === 'pdf' || (format === undefined && (header(req, 'accept') ?? '').includes('application/pdf'))) {
      await this.send(res, await this.copies.latestPdf(ctx, id));
      return;
    }
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.copies.lines(ctx, id)));
  }

  @Get(':id/copies/:file')
  @Permission.workflow('list', 'Dispute', casesRefused)
  @ApiOperation({
    summary:
      'A sealed copy exactly as sealed: `{n}.pdf` (封存清单) or `{n}.json` (the FHIR document Bundle); `unseal-record.pdf`: the unseal record (启封记录, R-43) produced at unsealing. ' +
      'Each with its SHA-256 in `X-Content-SHA256`',
  })
  @ApiParam({ name: 'file', examples: { copy: { value: '1.pdf' }, bundle: { value: '1.json' }, unsealRecord: { value: 'unseal-record.pdf' } } })
  @ApiSuccess(200, 'The file exactly as sealed or produced (X-Content-SHA256: its SHA-256)', { 'application/pdf': ANSWER_SCHEMA.file, 'application/fhir+json': ANSWER_SCHEMA.fhirResource })
  @ApiErrors(errorsOf(DisputeError, DisputeErrorCode.NotFound, DisputeErrorCode.Forbidden))
  async copy(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string, @Param('file') file: string) {
    await this.send(res, await this.copies.copy(fhirContext(req, this.settings), id, file));
  }

  @Get(':id/signatures/:file')
  @Permission.workflow('list', 'Dispute', casesRefused)
  @ApiOperation({ summary: "The patient side's drawn signature (`{sha256}.png`), exactly as received when sealing or unsealing with both sides (R-40, R-43); its SHA-256 in `X-Content-SHA256`" })
  @ApiParam({ name: 'file', examples: { signature: { value: '<sha256>.png' } } })
  @ApiSuccess(200, 'The PNG as received (X-Content-SHA256: its SHA-256, as the case records it)', { 'image/png': ANSWER_SCHEMA.file })
  @ApiErrors(errorsOf(DisputeError, DisputeErrorCode.NotFound, DisputeErrorCode.Forbidden))
  async signature(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string, @Param('file') file: string) {
    const signature = await this.copies.signature(fhirContext(req, this.settings), id, file);
    await sendRecordedFile(this.recorder, res, { ...signature, contentType: 'image/png' });
  }

  private send(res: PlatformResponse, { format, ...file }: SealedCopyFile): Promise<void> {
    return sendRecordedFile(this.recorder, res, { ...file, contentType: COPY_CONTENT_TYPES[format] });
  }
}

import { Controller, Get, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { queryText } from '../fhir/fhir-request.js';
import { COPY_CONTENT_TYPES, copyFileName, jsonResponse, sendRecorded, sendRecordedFile } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { CopyRequestsService } from './copy-requests.service.js';
import { EVIDENCE_KINDS, REQUESTER_TYPES } from './domain/copy-request.js';
import { PrintService } from './print.service.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/** The record room's release of information (issue #6, R-30…R-34), under `/copy-requests`. */
@ApiTags('copy-requests')
@ApiBearerAuth()
@Controller('copy-requests')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class CopyRequestsController {
  constructor(
    private readonly requests: CopyRequestsService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Receive a copy request (R-30): patient, requester type and identity, purpose, scope' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['patient', 'requesterType', 'requester', 'purpose', 'scope'],
      properties: {
        patient: { type: 'string', example: 'Patient/p1' },
        requesterType: { type: 'string', enum: [...REQUESTER_TYPES] },
        requester: { type: 'object', properties: { name: { type: 'string' }, idNumber: { type: 'string' }, organization: { type: 'string' }, contact: { type: 'string' } } },
        purpose: { type: 'string', example: '医保报销' },
        scope: { type: 'object', properties: { all: { type: 'boolean' }, documentTypes: { type: 'array', items: { type: 'string', example: 'discharge-record' } }, encounters: { type: 'array', items: { type: 'string' } } } },
      },
    },
  })
  async create(@Req() req: Request, @Res() res: Response) {
    const body = await this.requests.create(fhirContext(req, this.settings), req.body);
    await sendRecorded(this.recorder, res, jsonResponse(201, body, { Location: `/copy-requests/${body.id}` }));
  }

  @Get()
  @ApiOperation({ summary: "The record room's queue, oldest first" })
  @ApiQuery({ name: 'status', required: false, enum: ['received', 'verified', 'approved', 'refused', 'produced', 'partially-delivered', 'delivered', 'closed'] })
  @ApiQuery({ name: 'patient', required: false })
  async list(@Req() req: Request, @Res() res: Response, @Query('status') status?: string, @Query('patient') patient?: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.list(fhirContext(req, this.settings), queryText(status), queryText(patient))));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One request: checklist, evidence (hashes), productions, its whole life (R-34)' })
  async get(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.get(fhirContext(req, this.settings), id)));
  }

  @Post(':id/evidence')
  @ApiOperation({ summary: 'Upload one presented document (PDF, JPEG or PNG, checked by its bytes) and what it proves' })
  @ApiConsumes('application/pdf', 'image/jpeg', 'image/png')
  @ApiQuery({ name: 'proves', required: true, enum: [...EVIDENCE_KINDS] })
  @ApiQuery({ name: 'filename', required: false })
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  async evidence(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Query('proves') proves?: string, @Query('filename') filename?: string) {
    const declared = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() || undefined;
    const body = await this.requests.addEvidence(fhirContext(req, this.settings), id, queryText(proves), queryText(filename), declared, req.body);
    await sendRecorded(this.recorder, res, jsonResponse(201, body));
  }

  @Post(':id/verify')
  @ApiOperation({ summary: "Check the evidence against the requester type's checklist (R-30); 422 lists what is missing" })
  @ApiBody({ schema: { type: 'object', required: ['identityChecked'], properties: { identityChecked: { type: 'boolean', enum: [true] } } } })
  async verify(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.verify(fhirContext(req, this.settings), id, req.body)));
  }

  @Post(':id/approve')
  @ApiOperation({ summary: 'Approve a checked request' })
  async approve(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.decide(fhirContext(req, this.settings), id, true, req.body)));
  }

  @Post(':id/refuse')
  @ApiOperation({ summary: 'Refuse a request, with a reason' })
  @ApiBody({ schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } })
  async refuse(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.decide(fhirContext(req, this.settings), id, false, req.body)));
  }

  @Post(':id/produce')
  @ApiOperation({ summary: 'Produce a copy of objective, completed documents (R-31, R-32): certified PDF + document Bundle; unfinished parts pending' })
  async produce(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(201, await this.requests.produce(fhirContext(req, this.settings), id)));
  }

  @Post(':id/deliver')
  @ApiOperation({ summary: 'Hand the copies to the requester, identity checked again (R-33, R-34); closes the request unless parts are pending' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['recipient', 'identityChecked', 'requesterChecked'],
      properties: {
        recipient: { type: 'object', properties: { name: { type: 'string' }, idNumber: { type: 'string' } } },
        identityChecked: { type: 'boolean', enum: [true] },
        requesterChecked: { type: 'boolean', enum: [true] },
        method: { type: 'string', enum: ['in-person', 'mail', 'electronic'] },
      },
    },
  })
  async deliver(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.deliver(fhirContext(req, this.settings), id, req.body)));
  }

  @Post(':id/close')
  @ApiOperation({ summary: 'Close an open request with a reason (withdrawn; pending parts that will not be completed)' })
  @ApiBody({ schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } })
  async close(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.requests.close(fhirContext(req, this.settings), id, req.body)));
  }

  @Get(':id/copies/:file')
  @ApiOperation({ summary: 'A produced copy exactly as produced: `{n}.pdf` (certified) or `{n}.json` (FHIR document Bundle)' })
  @ApiParam({ name: 'file', example: '1.pdf' })
  async copy(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Param('file') file: string) {
    const name = copyFileName(file);
    if (!name) throw new ReleaseError(ReleaseErrorCode.NotFound, `No copy ${file}: copies are named {n}.pdf or {n}.json`);
    const copy = await this.requests.copy(fhirContext(req, this.settings), id, name.n, name.format);
    await sendRecordedFile(this.recorder, res, { ...copy, contentType: COPY_CONTENT_TYPES[name.format], filename: `copy-${id}-${file}` });
  }
}

/** `$print` of one record by a clinician: registered before the FHIR controller. */
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
  async print(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    const pdf = await this.prints.print(fhirContext(req, this.settings), type, id);
    await sendRecordedFile(this.recorder, res, { body: pdf.bytes, sha256: pdf.sha256, contentType: 'application/pdf', filename: pdf.filename });
  }
}

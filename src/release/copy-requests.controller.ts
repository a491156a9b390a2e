import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HttpReq, setResponseHeader, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { AuditInterceptor } from '../audit/audit.interceptor.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf, RECORD_ACCESS } from '../common/api-errors.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { CopyDeliveryService } from './copy-delivery.service.js';
import { CopyProductionService } from './copy-production.service.js';
import { CopyRequestsService } from './copy-requests.service.js';
import { COPY_REQUEST_STATUSES } from './domain/copy-request.js';
import { EVIDENCE_KINDS, REQUESTER_TYPES } from '../policy/domain/copy-checklists.js';
import {
  approvalSchema,
  closingSchema,
  declaredType,
  deliverySchema,
  DELIVERY_METHODS,
  evidenceQuerySchema,
  parseCopyRequest,
  parseInput,
  queueQuerySchema,
  refusalSchema,
  verificationSchema,
} from './dto/copy-request.dto.js';
import { RecordRoom } from './record-room.permission.js';
import { ReleaseError, ReleaseErrorCode as R } from './release.errors.js';

const REASON = { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } };

/** What the record room's use cases refuse, by their codes (`release.errors.ts`); the permission's 403 is added from `@RecordRoom`. */
const refusals = (...codes: R[]) => errorsOf(ReleaseError, ...codes);
/** A step on one request: the body or query parsed (400), the request known (404), in the state the step needs (409). */
const STEP = refusals(R.Invalid, R.NotFound, R.WrongState);
const VIEW = { 'application/json': ANSWER_SCHEMA.object };

/**
 * The record room's release of information (issue #6, R-30…R-34), under `/copy-requests`: each
 * route the record room's workflow permission, a parsed body, one use case. Answers are JSON,
 * recorded in the audit trail before they are sent; the copies' files: `CopyFilesController`.
 */
@ApiTags('copy-requests')
@ApiBearerAuth()
@Controller('copy-requests')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
@UseInterceptors(AuditInterceptor)
export class CopyRequestsController {
  constructor(
    private readonly requests: CopyRequestsService,
    private readonly production: CopyProductionService,
    private readonly delivery: CopyDeliveryService,
    private readonly settings: FhirSettings,
  ) {}

  @Post()
  @RecordRoom('request')
  @ApiSuccess(201, 'The request as received, with its checklist (Location: /copy-requests/{id})', VIEW)
  @ApiErrors(refusals(R.Invalid, R.RequesterMismatch, R.SubjectiveRefused), RECORD_ACCESS)
  @ApiOperation({ summary: 'Receive a copy request (R-30): patient, requester type and identity, purpose, scope' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['patient', 'requesterType', 'requester', 'purpose', 'scope'],
      properties: {
        patient: { type: 'string', example: 'Patient/p1' },
        requesterType: { type: 'string', enum: [...REQUESTER_TYPES] },
        requester: {
          type: 'object',
          properties: { name: { type: 'string' }, idNumber: { type: 'string' }, organization: { type: 'string' }, contact: { type: 'string' } },
        },
        purpose: { type: 'string', example: '医保报销' },
        scope: {
          type: 'object',
          properties: {
            all: { type: 'boolean' },
            documentTypes: { type: 'array', items: { type: 'string', example: 'discharge-record' } },
            encounters: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  })
  async create(@HttpReq() req: HttpRequest, @Res({ passthrough: true }) res: PlatformResponse, @Body() body: unknown) {
    const created = await this.requests.create(fhirContext(req, this.settings), parseCopyRequest(body));
    setResponseHeader(res, 'Location', `/copy-requests/${created.id}`);
    return created;
  }

  @Get()
  @RecordRoom('list')
  @ApiSuccess(200, 'The queue, oldest first', { 'application/json': ANSWER_SCHEMA.list })
  @ApiErrors(refusals(R.Invalid))
  @ApiOperation({ summary: "The record room's queue, oldest first" })
  @ApiQuery({ name: 'status', required: false, enum: [...COPY_REQUEST_STATUSES] })
  @ApiQuery({ name: 'patient', required: false })
  list(@HttpReq() req: HttpRequest, @Query() query: unknown) {
    return this.requests.list(fhirContext(req, this.settings), parseInput(queueQuerySchema, query));
  }

  @Get(':id')
  @RecordRoom('list')
  @ApiSuccess(200, 'The request as it stands', VIEW)
  @ApiErrors(refusals(R.NotFound))
  @ApiOperation({ summary: 'One request: checklist, evidence (hashes), productions, its whole life (R-34)' })
  get(@HttpReq() req: HttpRequest, @Param('id') id: string) {
    return this.requests.get(fhirContext(req, this.settings), id);
  }

  @Post(':id/evidence')
  @RecordRoom('request')
  @ApiSuccess(201, 'The request with the evidence kept (its SHA-256)', VIEW)
  @ApiErrors(STEP, refusals(R.EvidenceType))
  @ApiOperation({ summary: 'Upload one presented document (PDF, JPEG or PNG, checked by its bytes) and what it proves' })
  @ApiConsumes('application/pdf', 'image/jpeg', 'image/png')
  @ApiQuery({ name: 'proves', required: true, enum: [...EVIDENCE_KINDS] })
  @ApiQuery({ name: 'filename', required: false })
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  evidence(@HttpReq() req: HttpRequest, @Param('id') id: string, @Query() query: unknown, @Headers('content-type') type: string | undefined, @Body() bytes: unknown) {
    const { proves, filename } = parseInput(evidenceQuerySchema, query);
    return this.requests.addEvidence(fhirContext(req, this.settings), id, { proves, filename, declared: declaredType(type), bytes });
  }

  @Post(':id/verify')
  @HttpCode(200)
  @RecordRoom('request')
  @ApiSuccess(200, 'The request, verified', VIEW)
  @ApiErrors(STEP, refusals(R.EvidenceMissing))
  @ApiOperation({ summary: "Check the evidence against the requester type's checklist (R-30); 422 lists what is missing" })
  @ApiBody({ schema: { type: 'object', required: ['identityChecked'], properties: { identityChecked: { type: 'boolean', enum: [true] } } } })
  verify(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.requests.verify(fhirContext(req, this.settings), id, parseInput(verificationSchema, body).identityChecked);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @RecordRoom('approve')
  @ApiSuccess(200, 'The request, approved', VIEW)
  @ApiErrors(STEP, refusals(R.SeparationOfDuties))
  @ApiOperation({ summary: 'Approve a checked request' })
  approve(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.requests.decide(fhirContext(req, this.settings), id, true, parseInput(approvalSchema, body).reason);
  }

  @Post(':id/refuse')
  @HttpCode(200)
  @RecordRoom('approve')
  @ApiSuccess(200, 'The request, refused and closed', VIEW)
  @ApiErrors(STEP)
  @ApiOperation({ summary: 'Refuse a request, with a reason' })
  @ApiBody(REASON)
  refuse(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.requests.decide(fhirContext(req, this.settings), id, false, parseInput(refusalSchema, body).reason);
  }

  @Post(':id/produce')
  @RecordRoom('request')
  @ApiSuccess(201, 'The copy produced: its manifest, pending parts, hashes and where its two files are read', VIEW)
  @ApiErrors(refusals(R.NotFound, R.WrongState, R.NothingToProduce))
  @ApiOperation({ summary: 'Produce a copy of objective, completed documents (R-31, R-32): certified PDF + document Bundle; unfinished parts pending' })
  produce(@HttpReq() req: HttpRequest, @Param('id') id: string) {
    return this.production.produce(fhirContext(req, this.settings), id);
  }

  @Post(':id/deliver')
  @HttpCode(200)
  @RecordRoom('request')
  @ApiSuccess(200, 'The request, delivered (or partially delivered while parts are pending)', VIEW)
  @ApiErrors(STEP, refusals(R.RecipientMismatch, R.Withheld))
  @ApiOperation({ summary: 'Hand the copies to the requester, identity checked again (R-33, R-34); closes the request unless parts are pending' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['recipient', 'identityChecked', 'requesterChecked'],
      properties: {
        recipient: { type: 'object', properties: { name: { type: 'string' }, idNumber: { type: 'string' } } },
        identityChecked: { type: 'boolean', enum: [true] },
        requesterChecked: { type: 'boolean', enum: [true] },
        method: { type: 'string', enum: [...DELIVERY_METHODS] },
      },
    },
  })
  deliver(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.delivery.deliver(fhirContext(req, this.settings), id, parseInput(deliverySchema, body, 'A delivery names: '));
  }

  @Post(':id/close')
  @HttpCode(200)
  @RecordRoom('request')
  @ApiSuccess(200, 'The request, closed', VIEW)
  @ApiErrors(STEP)
  @ApiOperation({ summary: 'Close an open request with a reason (withdrawn; pending parts that will not be completed)' })
  @ApiBody(REASON)
  close(@HttpReq() req: HttpRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.requests.close(fhirContext(req, this.settings), id, parseInput(closingSchema, body).reason);
  }
}

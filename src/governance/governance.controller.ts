import { Body, Controller, Get, Param, Post, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { HttpReq, type HttpRequest, type PlatformResponse } from '../common/http-exchange.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { ANSWER_SCHEMA, ApiErrors, ApiSuccess, errorsOf, POLICY_REFUSAL, RECORD_ACCESS, RECORD_WRITE } from '../common/api-errors.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { jsonResponse, sendRecorded, type FhirResponse } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { AmendmentService } from './amendment.service.js';
import { ArchiveService } from './archive.service.js';
import {
  amendmentListSchema,
  departmentQuerySchema,
  parseAmendmentDecision,
  parseAmendmentRequest,
  parseQuery,
  versionRangeSchema,
} from './dto/governance.dto.js';
import { GovernanceError, GovernanceErrorCode as G } from './governance.errors.js';
import { LedgerService } from './ledger.service.js';
import { OverdueService } from './overdue.service.js';
import { SigningService } from './signing.service.js';

const ok = (body: unknown) => jsonResponse(200, body);

/** What edit governance refuses, by its codes (`governance.errors.ts`). */
const refusals = (...codes: G[]) => errorsOf(GovernanceError, ...codes);
/** A department's list (`departmentToList`): no department named or in the token (400), not the operator's to read (403). */
const DEPARTMENT_LIST = [...refusals(G.NotGoverned), POLICY_REFUSAL];
/** A decision on an amendment by someone who may decide it (403), known (404), still waiting (409). */
const AMENDMENT_DECISION = refusals(G.AmendmentForbidden, G.AmendmentNotFound, G.AmendmentWrongState);
const JSON_OBJECT = { 'application/json': ANSWER_SCHEMA.object };
const JSON_LIST = { 'application/json': ANSWER_SCHEMA.list };
const FHIR_RESOURCE = { 'application/fhir+json': ANSWER_SCHEMA.fhirResource };

/**
 * Edit governance over HTTP (R-10…R-15): the edit ledger of a document, sign / co-sign /
 * archive, amendments and the department lists. Each route: its permission, its parsed query or
 * body, one use case; the answer is recorded in the audit trail before it is sent (`sendRecorded`,
 * which keeps the FHIR operations' own headers). Registered before the FHIR controller.
 */
@ApiTags('governance')
@ApiBearerAuth()
@Controller()
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class GovernanceController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly signing: SigningService,
    private readonly amendments: AmendmentService,
    private readonly archives: ArchiveService,
    private readonly deadlines: OverdueService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  /** Every version with editor, time, reason and what changed; `?from=&to=` diffs two versions. */
  @Get('fhir/:type/:id/$changes')
  @Permission.record('LedgerService')
  @ApiOperation({ summary: 'The edit ledger of a document (R-12): every version with editor, time, reason and what changed; from & to diff two versions' })
  @ApiQuery({ name: 'from', required: false })
  @ApiQuery({ name: 'to', required: false })
  @ApiSuccess(200, 'The changes, or the diff of two versions', JSON_OBJECT)
  @ApiErrors(RECORD_ACCESS, errorsOf(FhirRequestError, FhirRequestErrorCode.UnknownResourceType, FhirRequestErrorCode.InvalidRequest), refusals(G.VersionNotFound))
  async changes(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string, @Query() query: unknown) {
    await this.send(res, this.ledger.changes(this.context(req), type, id, parseQuery(versionRangeSchema, query)).then(ok));
  }

  /** A licensed physician of the department co-signs an intern's, probationer's or visiting doctor's document. */
  @Post('fhir/:type/:id/$cosign')
  @Permission.record('SigningService')
  @ApiOperation({ summary: "A licensed physician co-signs an intern's, probationer's or visiting doctor's document (R-14)" })
  @ApiSuccess(200, 'The Provenance carrying the co-signature (Content-Location: the signed version)', FHIR_RESOURCE)
  @ApiErrors(RECORD_ACCESS, RECORD_WRITE, refusals(G.NotGoverned, G.CosignerNotLicensed, G.AlreadySigned, G.NotAwaitingCosign, G.Archived))
  async cosign(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    await this.send(res, this.signing.cosign(this.context(req), type, id));
  }

  /** What waits for a co-signature in a department, oldest first: its physicians who may co-sign, or medical affairs. */
  @Get('governance/pending-cosign')
  @Permission.record('SigningService')
  @ApiOperation({ summary: 'What waits for a co-signature in a department, oldest first (R-14)' })
  @ApiQuery({ name: 'dept', required: false, description: 'The department; default the operator\'s own' })
  @ApiSuccess(200, 'Documents waiting for a co-signature', JSON_LIST)
  @ApiErrors(DEPARTMENT_LIST)
  async pendingCosign(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Query() query: unknown) {
    await this.send(res, this.signing.pendingCosign(this.context(req), parseQuery(departmentQuerySchema, query).dept).then(ok));
  }

  /** The author asks to amend a document past its edit window, with a reason: 201 with the amendment. */
  @Post('fhir/:type/:id/$amend-request')
  @Permission.record('AmendmentService')
  @ApiOperation({ summary: 'The author asks to amend a document past its edit window, with a reason (R-11)' })
  @ApiBody({ schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } })
  @ApiSuccess(201, 'The amendment, requested', JSON_OBJECT)
  @ApiErrors(RECORD_ACCESS, refusals(G.ReasonMissing, G.NotGoverned, G.NotAuthor))
  async amendRequest(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string, @Body() body: unknown) {
    await this.send(res, this.amendments.request(this.context(req), type, id, parseAmendmentRequest(body)).then((a) => jsonResponse(201, a)));
  }

  /** A chief physician or medical affairs approves an amendment; nobody their own. */
  @Post('governance/amendments/:id/approve')
  @Permission.record('AmendmentService')
  @ApiOperation({ summary: 'A chief physician or medical affairs approves an amendment (R-11); nobody their own' })
  @ApiBody({ schema: { type: 'object', properties: { note: { type: 'string' } } } })
  @ApiSuccess(200, 'The amendment, approved: a one-time permit for its author', JSON_OBJECT)
  @ApiErrors(AMENDMENT_DECISION)
  async approve(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string, @Body() body: unknown) {
    await this.send(res, this.amendments.decide(this.context(req), id, true, parseAmendmentDecision(true, body)).then(ok));
  }

  /** A chief physician or medical affairs refuses an amendment, saying why. */
  @Post('governance/amendments/:id/refuse')
  @Permission.record('AmendmentService')
  @ApiOperation({ summary: 'A chief physician or medical affairs refuses an amendment, saying why (R-11)' })
  @ApiBody({ schema: { type: 'object', required: ['note'], properties: { note: { type: 'string' } } } })
  @ApiSuccess(200, 'The amendment, refused', JSON_OBJECT)
  @ApiErrors(AMENDMENT_DECISION, refusals(G.ReasonMissing))
  async refuse(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('id') id: string, @Body() body: unknown) {
    await this.send(res, this.amendments.decide(this.context(req), id, false, parseAmendmentDecision(false, body)).then(ok));
  }

  /** Amendments: every one to those who decide them, their own to authors. */
  @Get('governance/amendments')
  @Permission.record('AmendmentService')
  @ApiOperation({ summary: 'Amendments: every one to those who decide them, their own to authors' })
  @ApiQuery({ name: 'status', required: false })
  @ApiSuccess(200, 'Amendments', JSON_LIST)
  // The list refuses nobody (an author sees their own): only what every route answers.
  @ApiErrors()
  async listAmendments(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Query() query: unknown) {
    await this.send(res, this.amendments.list(this.context(req), parseQuery(amendmentListSchema, query).status).then(ok));
  }

  /** Documents late or not yet written against the writing deadlines, per inpatient encounter of a department. */
  @Get('governance/overdue')
  @Permission.record('OverdueService')
  @ApiOperation({ summary: 'Documents late or not yet written against the writing deadlines, per inpatient encounter of a department (R-10)' })
  @ApiQuery({ name: 'dept', required: false, description: 'The department; default the operator\'s own' })
  @ApiSuccess(200, 'Encounters with what is overdue', JSON_LIST)
  @ApiErrors(DEPARTMENT_LIST)
  async overdue(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Query() query: unknown) {
    await this.send(res, this.deadlines.overdue(this.context(req), parseQuery(departmentQuerySchema, query).dept).then(ok));
  }

  /** Archives an encounter's record: read-only from now on. */
  @Post('fhir/:type/:id/$archive')
  @Permission.record('ArchiveService')
  @ApiOperation({ summary: "Archives an encounter's record (R-15): read-only from then on" })
  @ApiSuccess(200, 'The Encounter, archived', FHIR_RESOURCE)
  @ApiErrors(RECORD_ACCESS, RECORD_WRITE, refusals(G.NotGoverned, G.NotArchivable, G.SeniorReviewRequired))
  async archive(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    await this.send(res, this.archives.archive(this.context(req), type, id));
  }

  /** The author confirms the document: final, attested, with a Provenance carrying the signature (returned). */
  @Post('fhir/:type/:id/$sign')
  @Permission.record('SigningService')
  @ApiOperation({ summary: 'The author confirms the document (R-13): final, attested, with a Provenance carrying the signature' })
  @ApiSuccess(200, 'The Provenance carrying the signature (Content-Location: the signed version)', FHIR_RESOURCE)
  @ApiErrors(RECORD_ACCESS, RECORD_WRITE, refusals(G.NotGoverned, G.NotAuthor, G.CosignRequired, G.AlreadySigned, G.AwaitingCosign, G.Archived))
  async sign(@HttpReq() req: HttpRequest, @Res() res: PlatformResponse, @Param('type') type: string, @Param('id') id: string) {
    await this.send(res, this.signing.sign(this.context(req), type, id));
  }

  private context(req: HttpRequest): FhirContext {
    return fhirContext(req, this.settings);
  }

  /** Records the answer in the audit trail, then sends it: nothing leaves unrecorded. */
  private async send(res: PlatformResponse, answer: Promise<FhirResponse>): Promise<void> {
    await sendRecorded(this.recorder, res, await answer);
  }
}

import { Body, Controller, Get, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { jsonResponse, sendRecorded, type FhirResponse } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { Permission } from '../fhir/route-permission.js';
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
import { LedgerService } from './ledger.service.js';
import { OverdueService } from './overdue.service.js';
import { SigningService } from './signing.service.js';

const ok = (body: unknown) => jsonResponse(200, body);

/**
 * Edit governance over HTTP (R-10…R-15): the edit ledger of a document, sign / co-sign /
 * archive, amendments and the department lists. Each route: its permission, its parsed query or
 * body, one use case; the answer is recorded in the audit trail before it is sent (`sendRecorded`,
 * which keeps the FHIR operations' own headers). Registered before the FHIR controller.
 */
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
  async changes(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string, @Query() query: unknown) {
    await this.send(res, this.ledger.changes(this.context(req), type, id, parseQuery(versionRangeSchema, query)).then(ok));
  }

  /** A licensed physician of the department co-signs an intern's, probationer's or visiting doctor's document. */
  @Post('fhir/:type/:id/$cosign')
  @Permission.record('SigningService')
  async cosign(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    await this.send(res, this.signing.cosign(this.context(req), type, id));
  }

  /** What waits for a co-signature in a department, oldest first: its physicians who may co-sign, or medical affairs. */
  @Get('governance/pending-cosign')
  @Permission.record('SigningService')
  async pendingCosign(@Req() req: Request, @Res() res: Response, @Query() query: unknown) {
    await this.send(res, this.signing.pendingCosign(this.context(req), parseQuery(departmentQuerySchema, query).dept).then(ok));
  }

  /** The author asks to amend a document past its edit window, with a reason: 201 with the amendment. */
  @Post('fhir/:type/:id/$amend-request')
  @Permission.record('AmendmentService')
  async amendRequest(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string, @Body() body: unknown) {
    await this.send(res, this.amendments.request(this.context(req), type, id, parseAmendmentRequest(body)).then((a) => jsonResponse(201, a)));
  }

  /** A chief physician or medical affairs approves an amendment; nobody their own. */
  @Post('governance/amendments/:id/approve')
  @Permission.record('AmendmentService')
  async approve(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Body() body: unknown) {
    await this.send(res, this.amendments.decide(this.context(req), id, true, parseAmendmentDecision(true, body)).then(ok));
  }

  /** A chief physician or medical affairs refuses an amendment, saying why. */
  @Post('governance/amendments/:id/refuse')
  @Permission.record('AmendmentService')
  async refuse(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Body() body: unknown) {
    await this.send(res, this.amendments.decide(this.context(req), id, false, parseAmendmentDecision(false, body)).then(ok));
  }

  /** Amendments: every one to those who decide them, their own to authors. */
  @Get('governance/amendments')
  @Permission.record('AmendmentService')
  async listAmendments(@Req() req: Request, @Res() res: Response, @Query() query: unknown) {
    await this.send(res, this.amendments.list(this.context(req), parseQuery(amendmentListSchema, query).status).then(ok));
  }

  /** Documents late or not yet written against the writing deadlines, per inpatient encounter of a department. */
  @Get('governance/overdue')
  @Permission.record('OverdueService')
  async overdue(@Req() req: Request, @Res() res: Response, @Query() query: unknown) {
    await this.send(res, this.deadlines.overdue(this.context(req), parseQuery(departmentQuerySchema, query).dept).then(ok));
  }

  /** Archives an encounter's record: read-only from now on. */
  @Post('fhir/:type/:id/$archive')
  @Permission.record('ArchiveService')
  async archive(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    await this.send(res, this.archives.archive(this.context(req), type, id));
  }

  /** The author confirms the document: final, attested, with a Provenance carrying the signature (returned). */
  @Post('fhir/:type/:id/$sign')
  @Permission.record('SigningService')
  async sign(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    await this.send(res, this.signing.sign(this.context(req), type, id));
  }

  private context(req: Request): FhirContext {
    return fhirContext(req, this.settings);
  }

  /** Records the answer in the audit trail, then sends it: nothing leaves unrecorded. */
  private async send(res: Response, answer: Promise<FhirResponse>): Promise<void> {
    await sendRecorded(this.recorder, res, await answer);
  }
}

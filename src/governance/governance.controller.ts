import { Controller, Get, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { AmendmentService } from './amendment.service.js';
import { ArchiveService } from './archive.service.js';
import { OverdueService } from './overdue.service.js';
import type { Request, Response } from 'express';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { queryText } from '../fhir/fhir-request.js';
import { jsonResponse, sendRecorded } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { LedgerService } from './ledger.service.js';
import { SigningService } from './signing.service.js';

/** Edit governance over HTTP (issue #4): the edit ledger of a document. Registered before the FHIR controller. */
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
  async changes(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string, @Query('from') from?: string, @Query('to') to?: string) {
    const body = await this.ledger.changes(fhirContext(req, this.settings), type, id, queryText(from), queryText(to));
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  /** A licensed physician of the department co-signs an intern's, probationer's or visiting doctor's document. */
  @Post('fhir/:type/:id/$cosign')
  async cosign(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, await this.signing.cosign(fhirContext(req, this.settings), type, id));
  }

  /** What waits for a co-signature in a department, oldest first. */
  @Get('governance/pending-cosign')
  async pendingCosign(@Req() req: Request, @Res() res: Response, @Query('dept') dept?: string) {
    const body = await this.signing.pendingCosign(fhirContext(req, this.settings), queryText(dept));
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  /** The author asks to amend a document past its edit window, with a reason: 201 with the amendment. */
  @Post('fhir/:type/:id/$amend-request')
  async amendRequest(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    const body = await this.amendments.request(fhirContext(req, this.settings), type, id, req.body);
    await sendRecorded(this.recorder, res, jsonResponse(201, body));
  }

  @Post('governance/amendments/:id/approve')
  async approve(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.amendments.decide(fhirContext(req, this.settings), id, true, req.body)));
  }

  @Post('governance/amendments/:id/refuse')
  async refuse(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.amendments.decide(fhirContext(req, this.settings), id, false, req.body)));
  }

  @Get('governance/amendments')
  async listAmendments(@Req() req: Request, @Res() res: Response, @Query('status') status?: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.amendments.list(fhirContext(req, this.settings), queryText(status))));
  }

  /** Documents late or not yet written against the writing deadlines, per inpatient encounter of a department. */
  @Get('governance/overdue')
  async overdue(@Req() req: Request, @Res() res: Response, @Query('dept') dept?: string) {
    await sendRecorded(this.recorder, res, jsonResponse(200, await this.deadlines.overdue(fhirContext(req, this.settings), queryText(dept))));
  }

  /** Archives an encounter's record: read-only from now on. */
  @Post('fhir/:type/:id/$archive')
  async archive(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, await this.archives.archive(fhirContext(req, this.settings), type, id));
  }

  /** The author confirms the document: final, attested, with a Provenance carrying the signature (returned). */
  @Post('fhir/:type/:id/$sign')
  async sign(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    await sendRecorded(this.recorder, res, await this.signing.sign(fhirContext(req, this.settings), type, id));
  }
}

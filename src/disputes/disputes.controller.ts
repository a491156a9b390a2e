import { Controller, Get, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { fhirContext } from '../fhir/fhir-context.js';
import { queryText } from '../fhir/fhir-request.js';
import { COPY_CONTENT_TYPES, copyFileName, jsonResponse, sendRecorded, sendRecordedFile } from '../fhir/fhir-response.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { BearerAuthGuard } from '../identity/bearer-auth.guard.js';
import { DisputesService } from './disputes.service.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';


const PATIENT_WITNESS = {
  type: 'object',
  required: ['name', 'relationship', 'idDocument', 'confirmed'],
  properties: {
    name: { type: 'string', example: '王小明' },
    relationship: { type: 'string', enum: ['self', 'agent', 'spouse', 'parent', 'child', 'sibling', 'heir', 'other'] },
    idDocument: { type: 'object', properties: { type: { type: 'string', example: 'resident-id-card' }, number: { type: 'string' } } },
    confirmed: { type: 'boolean', enum: [true] },
  },
};

/** The disputes office's workflow (issue #7, R-40…R-44), under `/disputes`. */
@ApiTags('disputes')
@ApiBearerAuth()
@Controller('disputes')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class DisputesController {
  constructor(
    private readonly disputes: DisputesService,
    private readonly recorder: AuditRecorder,
    private readonly settings: FhirSettings,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Open a dispute case (a public-incident case is sealed at once, R-44)' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['patient', 'reason'],
      properties: {
        patient: { type: 'string', example: 'Patient/p1' },
        scope: {
          oneOf: [
            { type: 'object', properties: { kind: { enum: ['whole-record'] } } },
            { type: 'object', properties: { kind: { enum: ['encounters'] }, encounters: { type: 'array', items: { type: 'string' } } } },
            { type: 'object', properties: { kind: { enum: ['date-range'] }, from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } } },
          ],
        },
        trigger: { type: 'string', enum: ['dispute', 'public-incident'] },
        reason: { type: 'string' },
        team: { type: 'array', items: { type: 'string', example: 'Practitioner/dr-li' } },
      },
    },
  })
  async open(@Req() req: Request, @Res() res: Response) {
    const body = await this.disputes.open(fhirContext(req, this.settings), req.body);
    await sendRecorded(this.recorder, res, jsonResponse(201, body, { Location: `/disputes/${body.id}` }));
  }

  @Get()
  @ApiOperation({ summary: 'Cases, newest first' })
  @ApiQuery({ name: 'patient', required: false })
  @ApiQuery({ name: 'status', required: false, enum: ['open', 'sealed', 'unsealed'] })
  async list(@Req() req: Request, @Res() res: Response, @Query('patient') patient?: string, @Query('status') status?: string) {
    const body = await this.disputes.list(fhirContext(req, this.settings), queryText(patient), queryText(status));
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One case with its sealed copies' })
  async get(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const body = await this.disputes.get(fhirContext(req, this.settings), id);
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  @Post(':id/confirmations')
  @ApiOperation({
    summary:
      "A person at the table confirms with their own request: the hospital side's witness (policy: witness on Dispute) a seal (of the inventory digest shown) or an unseal; " +
      "medical affairs (policy: approve on Dispute) a unilateral unseal (basis, reason). Used by the officer's step within the policy's minutes (R-40, R-43). " +
      'Others get 403; the officer who opened or sealed the case gets 422 disputes.self-witness',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['step'],
      properties: {
        step: { type: 'string', enum: ['seal', 'unseal'] },
        inventoryDigest: { type: 'string', description: 'step seal: the digest of GET /disputes/{id}/inventory both sides were shown' },
        basis: { type: 'string', enum: ['both-sides', 'resolved', 'no-claim'], description: 'step unseal: resolved / no-claim make this an approval (medical affairs)' },
        reason: { type: 'string' },
      },
    },
  })
  async confirm(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const body = await this.disputes.confirm(fhirContext(req, this.settings), id, req.body);
    await sendRecorded(this.recorder, res, jsonResponse(201, body));
  }

  @Post(':id/seal')
  @ApiOperation({ summary: "Seal with both sides present (R-40): the patient side's confirmation here, the hospital witness's given before; inventory with hashes, sealed copy (Bundle + PDF)" })
  @ApiBody({ schema: { type: 'object', required: ['inventoryDigest', 'patientWitness'], properties: { inventoryDigest: { type: 'string' }, patientWitness: PATIENT_WITNESS } } })
  async seal(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const body = await this.disputes.seal(fhirContext(req, this.settings), id, req.body);
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  @Post(':id/supplement')
  @ApiOperation({ summary: 'Seal records completed since sealing (R-41), as a further sealed copy' })
  async supplement(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const body = await this.disputes.supplement(fhirContext(req, this.settings), id);
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  @Post(':id/unseal')
  @ApiOperation({ summary: "Unseal (R-43): both sides again (the hospital witness's confirmation given before), or resolved / no-claim (after the policy's years) with medical affairs' approval given before" })
  @ApiBody({ schema: { type: 'object', required: ['basis'], properties: { basis: { type: 'string', enum: ['both-sides', 'resolved', 'no-claim'] }, patientWitness: PATIENT_WITNESS } } })
  async unseal(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const body = await this.disputes.unseal(fhirContext(req, this.settings), id, req.body);
    await sendRecorded(this.recorder, res, jsonResponse(200, body));
  }

  @Get(':id/inventory')
  @ApiOperation({ summary: 'The inventory (封存清单) as JSON — for an open case, what sealing now would inventory, with the digest both sides confirm; `_format=pdf` (or Accept: application/pdf) gives the latest sealed copy' })
  @ApiQuery({ name: '_format', required: false, enum: ['json', 'pdf'] })
  async inventory(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Query('_format') format?: string) {
    const ctx = fhirContext(req, this.settings);
    const inventory = await this.disputes.inventory(ctx, id);
    if (format === 'pdf' || (format === undefined && (req.get('accept') ?? '').includes('application/pdf'))) {
      const latest = (await this.disputes.get(ctx, id)).copies.at(-1);
      if (!latest) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not sealed: there is no inventory PDF yet`);
      const pdf = await this.disputes.copy(ctx, id, latest.n, 'pdf');
      await sendRecordedFile(this.recorder, res, { ...pdf, contentType: COPY_CONTENT_TYPES.pdf, filename: `dispute-${id}-${latest.n}.pdf` });
      return;
    }
    await sendRecorded(this.recorder, res, jsonResponse(200, inventory));
  }

  @Get(':id/copies/:file')
  @ApiOperation({ summary: 'A sealed copy exactly as sealed: `{n}.pdf` or `{n}.json` (the FHIR document Bundle)' })
  @ApiParam({ name: 'file', example: '1.pdf' })
  async copy(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Param('file') file: string) {
    const name = copyFileName(file);
    if (!name) throw new DisputeError(DisputeErrorCode.NotFound, `No sealed copy ${file}: copies are named {n}.pdf or {n}.json`);
    const copy = await this.disputes.copy(fhirContext(req, this.settings), id, name.n, name.format);
    await sendRecordedFile(this.recorder, res, { ...copy, contentType: COPY_CONTENT_TYPES[name.format], filename: `dispute-${id}-${file}` });
  }
}

import { All, Controller, Delete, Get, Param, Post, Put, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { BearerAuthGuard, Public } from '../identity/bearer-auth.guard.js';
import { FhirExceptionFilter } from './fhir-exception.filter.js';
import { FhirBundleService } from './fhir-bundle.service.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { sendRecorded, type FhirResponse } from './fhir-response.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { formText, type FhirContext, type FhirHeaders } from './fhir-request.js';
import { fhirBaseUrl, fhirContext } from './fhir-context.js';
import { FhirService } from './fhir.service.js';
import { FhirSettings } from './fhir.settings.js';
import { MetadataService } from './metadata.service.js';

/**
 * FHIR R4 REST routes under `/fhir` (https://hl7.org/fhir/R4/http.html). Each handler is one
 * call into a use case; status, headers and OperationOutcomes are decided there and in the
 * exception filter. More specific paths are declared first: Express matches in order.
 */
@Controller('fhir')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
export class FhirController {
  constructor(
    private readonly fhir: FhirService,
    private readonly bundles: FhirBundleService,
    private readonly metadata: MetadataService,
    private readonly settings: FhirSettings,
    private readonly recorder: AuditRecorder,
  ) {}

  @Get('metadata')
  @Public()
  capabilities(@Req() req: Request, @Res() res: Response) {
    return this.reply(res, this.metadata.capabilities(this.baseUrl(req)));
  }

  @Post()
  transaction(@Req() req: Request, @Res() res: Response) {
    return this.reply(res, this.bundles.process(this.ctx(req), req.body));
  }

  /** `GET /fhir` is no FHIR interaction (system search and history are not supported). */
  @Get()
  base(@Req() req: Request) {
    return this.unsupported(req);
  }

  @Get('Patient/:id/$everything')
  everything(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    return this.reply(res, this.fhir.everything(this.ctx(req), id, search(req)));
  }

  @Get(':type/_history')
  typeHistory(@Req() req: Request, @Res() res: Response, @Param('type') type: string) {
    return this.reply(res, this.fhir.history(this.ctx(req), type, undefined, search(req)));
  }

  @Post(':type/_search')
  searchByPost(@Req() req: Request, @Res() res: Response, @Param('type') type: string) {
    const query = [search(req), formText(req.body)].filter(Boolean).join('&');
    return this.reply(res, this.fhir.search(this.ctx(req), type, query, headers(req)));
  }

  @Get(':type/:id/_history/:vid')
  vread(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string, @Param('vid') vid: string) {
    return this.reply(res, this.fhir.vread(this.ctx(req), type, id, vid));
  }

  @Get(':type/:id/_history')
  instanceHistory(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.history(this.ctx(req), type, id, search(req)));
  }

  @Get(':type/:id')
  read(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.read(this.ctx(req), type, id));
  }

  @Put(':type/:id')
  update(@Req() req: Request, @Res() res: Response, @Param('type') type: string, @Param('id') id: string) {
    return this.reply(res, this.fhir.update(this.ctx(req), type, id, req.body, headers(req)));
  }

  @Delete(':type/:id')
  delete(@Param('type') type: string) {
    this.fhir.delete(type);
  }

  @Delete(':type')
  conditionalDelete(@Param('type') type: string) {
    this.fhir.delete(type);
  }

  @Get(':type')
  search(@Req() req: Request, @Res() res: Response, @Param('type') type: string) {
    return this.reply(res, this.fhir.search(this.ctx(req), type, search(req), headers(req)));
  }

  @Post(':type')
  create(@Req() req: Request, @Res() res: Response, @Param('type') type: string) {
    return this.reply(res, this.fhir.create(this.ctx(req), type, req.body, headers(req)));
  }

  /** PATCH and anything else under /fhir that is not an interaction above. */
  @All('*path')
  unsupported(@Req() req: Request) {
    const method = req.method === 'PATCH' ? FhirRequestErrorCode.MethodNotSupported : FhirRequestErrorCode.RouteNotFound;
    throw new FhirRequestError(method, `${req.method} ${req.path} is not a supported FHIR interaction on this server (see GET /fhir/metadata)`);
  }

  /** Sends the use case's response once the request's audit entries are durable (errors go through the filter). */
  private async reply(res: Response, response: Promise<FhirResponse> | FhirResponse): Promise<void> {
    await sendRecorded(this.recorder, res, await response);
  }

  private ctx(req: Request): FhirContext {
    return fhirContext(req, this.settings);
  }

  private baseUrl(req: Request): string {
    return fhirBaseUrl(req, this.settings);
  }
}

export function search(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q + 1);
}

function headers(req: Request): FhirHeaders {
  return {
    ifMatch: req.get('if-match'),
    ifNoneExist: req.get('if-none-exist'),
    prefer: req.get('prefer'),
  };
}

import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import type { AuditedRequest } from '../audit/audit-recorder.js';
import { AuditInterceptor } from '../audit/audit.interceptor.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import type { Actor } from '../identity/actor.js';
import { BearerAuthGuard, CurrentActor } from '../identity/bearer-auth.guard.js';
import { ExplainService } from '../policy/explain.service.js';
import { AccessGrantService } from './access-grant.service.js';
import { BreakGlassService } from './break-glass.service.js';
import { decisionSchema, explainSchema, extendSchema, grantRequestSchema, parseInput } from './dto/access.dto.js';

/**
 * `/access`: time-limited grants, break-the-glass review, and decision
 * explanations. Every error is an OperationOutcome, like the FHIR API's.
 */
@Controller('access')
@UseGuards(BearerAuthGuard)
@UseFilters(FhirExceptionFilter)
@UseInterceptors(AuditInterceptor)
export class AccessController {
  constructor(
    private readonly grants: AccessGrantService,
    private readonly breakGlass: BreakGlassService,
    private readonly explainer: ExplainService,
  ) {}

  @Post('grants')
  requestGrant(@CurrentActor() actor: Actor, @Body() body: unknown) {
    return this.grants.request(actor, parseInput(grantRequestSchema, body));
  }

  @Get('grants')
  listGrants(@CurrentActor() actor: Actor, @Query('grantee') grantee?: string) {
    return this.grants.list(actor, grantee);
  }

  @Post('grants/:id/approve')
  @HttpCode(200)
  approve(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.grants.approve(actor, id, parseInput(decisionSchema, body).note);
  }

  @Post('grants/:id/refuse')
  @HttpCode(200)
  refuse(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.grants.refuse(actor, id, parseInput(decisionSchema, body).note);
  }

  @Post('grants/:id/extend')
  @HttpCode(200)
  extend(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    const input = parseInput(extendSchema, body);
    return this.grants.extend(actor, id, input.until, input.reason);
  }

  @Get('break-glass')
  listBreakGlass(@CurrentActor() actor: Actor, @Query('unreviewed') unreviewed?: string) {
    return this.breakGlass.list(actor, unreviewed === 'true');
  }

  @Post('break-glass/:id/review')
  @HttpCode(200)
  review(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.breakGlass.review(actor, id, parseInput(decisionSchema, body).note);
  }

  @Get('explain')
  explain(@CurrentActor() actor: Actor, @Query() query: unknown, @Req() req: AuditedRequest) {
    return this.explainer.explain(actor, parseInput(explainSchema(this.explainer.roleNames), query), req.audit);
  }
}

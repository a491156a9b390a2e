import { Body, Controller, Get, HttpCode, Param, Post, Query, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { AuditInterceptor } from '../audit/audit.interceptor.js';
import { CurrentAudit } from '../audit/current-audit.decorator.js';
import type { RequestAudit } from '../audit/request-audit.js';
import { FhirExceptionFilter } from '../fhir/fhir-exception.filter.js';
import { Permission } from '../fhir/route-permission.js';
import type { Actor } from '../identity/actor.js';
import { BearerAuthGuard, CurrentActor } from '../identity/bearer-auth.guard.js';
import { ExplainService } from '../policy/explain.service.js';
import { AccessGrantService } from './access-grant.service.js';
import { breakGlassStepRefused, grantStepRefused } from './access.errors.js';
import { BreakGlassService } from './break-glass.service.js';
import { breakGlassListSchema, decisionSchema, explainSchema, extendSchema, grantListSchema, grantRequestSchema, parseInput } from './dto/access.dto.js';

/**
 * `/access`: time-limited grants, break-the-glass review, and decision
 * explanations. Every error is an OperationOutcome, like the FHIR API's. Steps open to a role
 * are declared as workflow permissions; the others depend on the grant (its grantee and
 * requester) or name the explained record's patient in the trail, so their services decide.
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
  @Permission.workflow('request', 'AccessGrant', grantStepRefused('request'))
  requestGrant(@CurrentActor() actor: Actor, @Body() body: unknown) {
    return this.grants.request(actor, parseInput(grantRequestSchema, body));
  }

  /** Your own grants; anyone's for approvers. */
  @Get('grants')
  @Permission.record('AccessGrantService')
  listGrants(@CurrentActor() actor: Actor, @Query() query: unknown) {
    return this.grants.list(actor, parseInput(grantListSchema, query).grantee);
  }

  @Post('grants/:id/approve')
  @HttpCode(200)
  @Permission.workflow('approve', 'AccessGrant', grantStepRefused('approve'))
  approve(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.grants.approve(actor, id, parseInput(decisionSchema, body).note);
  }

  @Post('grants/:id/refuse')
  @HttpCode(200)
  @Permission.workflow('approve', 'AccessGrant', grantStepRefused('approve'))
  refuse(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.grants.refuse(actor, id, parseInput(decisionSchema, body).note);
  }

  /** The grant's grantee or requester only. */
  @Post('grants/:id/extend')
  @HttpCode(200)
  @Permission.record('AccessGrantService')
  extend(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    const input = parseInput(extendSchema, body);
    return this.grants.extend(actor, id, input.until, input.reason);
  }

  @Get('break-glass')
  @Permission.workflow('list', 'BreakGlass', breakGlassStepRefused('list'))
  listBreakGlass(@Query() query: unknown) {
    return this.breakGlass.list(parseInput(breakGlassListSchema, query).unreviewed);
  }

  @Post('break-glass/:id/review')
  @HttpCode(200)
  @Permission.workflow('review', 'BreakGlass', breakGlassStepRefused('review'))
  review(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown) {
    return this.breakGlass.review(actor, id, parseInput(decisionSchema, body).note);
  }

  /** `explain` on `Policy` (auditors, admins), decided by the service so the trail names the record's patient even when refused. */
  @Get('explain')
  @Permission.record('ExplainService')
  explain(@CurrentActor() actor: Actor, @Query() query: unknown, @CurrentAudit() audit: RequestAudit | undefined) {
    return this.explainer.explain(actor, parseInput(explainSchema(this.explainer.roleNames), query), audit);
  }
}

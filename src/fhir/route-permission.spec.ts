import 'reflect-metadata';
import { Controller, Post, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { entryFor } from '../audit/audit-entries.js';
import { RequestAudit } from '../audit/request-audit.js';
import { ChartWardenError, type ErrorAnswer } from '../common/chartwarden.error.js';
import type { Actor } from '../identity/actor.js';
import type { AccessPolicyService, Decision } from '../policy/access-policy.service.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { Permission, RoutePermissionGuard } from './route-permission.js';

/**
 * `RoutePermissionGuard` (issue #15 review): the permission is read from the handler, else the
 * controller; a guard that finds no workflow permission refuses instead of letting the request
 * through; every decision, refused ones included, lands in the request's audit entry.
 */

/** A feature's own 403, as `refuse` builds it. */
class StepRefused extends ChartWardenError<'test.step-refused'> {
  constructor(message: string) {
    super('test.step-refused', message);
  }
  override get answer(): ErrorAnswer {
    return { status: 403, issue: 'forbidden' };
  }
}

const refuse = (message: string) => new StepRefused(message);
const clerk: Actor = { id: 'clerk-1', practitioner: 'Practitioner/clerk-1', roles: ['clerk'], scopes: [] };

@Controller('steps')
class StepsController {
  @Post('approve')
  @Permission.workflow('approve', 'CopyRequest', refuse)
  approve() {}

  /** No permission on the handler: a guard attached here must refuse, never allow. */
  @Post('undeclared')
  undeclared() {}

  @Post('by-record')
  @Permission.record('StepsController')
  byRecord() {}
}

// A class-level workflow permission does not compile (Permission.workflow is a MethodDecorator)…
// @ts-expect-error a workflow permission is declared per route, never for a whole controller
@Permission.workflow('approve', 'CopyRequest', refuse)
@Controller('controller-wide')
class ControllerWide {
  @Post('step')
  step() {}
}

/** The guard with a policy that answers `decision` and records what it was asked. */
function guardWith(decision: Omit<Decision, 'policyVersion'>) {
  const asked: string[] = [];
  const policy = {
    version: 'policy-7',
    decideWorkflow: (actor: Actor, action: string, subject: string): Decision => {
      asked.push(`${actor.id}: ${action} on ${subject}`);
      return { ...decision, policyVersion: 'policy-7' };
    },
  } as unknown as AccessPolicyService;
  return { guard: new RoutePermissionGuard(new Reflector(), policy), asked };
}

/** A request to `handler` of `controller`, by `actor`, with its audit record. */
function requestTo(controller: new () => object, handler: string, actor: Actor | undefined) {
  const audit = new RequestAudit('req-1', 'POST', `/steps/${handler}`, '', '10.0.0.9', 'HIS/1.0', undefined);
  audit.actor = actor;
  const req = { actor, audit };
  const context = {
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
  return { context, audit };
}

/** What the guard threw (the test fails if it allowed). */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (e) {
    return e;
  }
  throw new Error('the guard was expected to refuse');
}

describe('RoutePermissionGuard', () => {
  it('allows a workflow step the policy allows, and records the decision', () => {
    const { guard, asked } = guardWith({ allowed: true, rule: 'clerks approve copy requests' });
    const { context, audit } = requestTo(StepsController, 'approve', clerk);
    expect(guard.canActivate(context)).toBe(true);
    expect(asked).toEqual(['clerk-1: approve on CopyRequest']);
    expect(audit.decision).toEqual({ allowed: true, rule: 'clerks approve copy requests', policyVersion: 'policy-7' });
  });

  it("refuses with the feature's own error a step the policy refuses, and the refusal is in the request's audit entry (R-20)", () => {
    const { guard } = guardWith({ allowed: false, rule: 'only the record room approves' });
    const { context, audit } = requestTo(StepsController, 'approve', clerk);
    const refused = thrownBy(() => guard.canActivate(context));
    expect(refused).toBeInstanceOf(StepRefused);
    expect((refused as StepRefused).message).toContain('approve on CopyRequest');
    const entry = entryFor(audit, { status: 403 }, new Date('2025-01-01T00:00:00Z'));
    expect(entry).toMatchObject({ outcome: 4, status: 403, rule: 'only the record room approves', policyVersion: 'policy-7', agent: { id: 'clerk-1' } });
  });

  it('a controller-wide workflow permission (put there in spite of the type) is enforced on every route, never skipped', () => {
    const { guard, asked } = guardWith({ allowed: false, rule: 'only the record room approves' });
    const { context, audit } = requestTo(ControllerWide, 'step', clerk);
    expect(thrownBy(() => guard.canActivate(context))).toBeInstanceOf(StepRefused);
    expect(asked).toEqual(['clerk-1: approve on CopyRequest']);
    expect(audit.decision?.allowed).toBe(false);
  });

  it.each(['undeclared', 'byRecord'])('a route the guard runs on with no workflow permission (%s) is refused, never allowed, and the refusal recorded', (handler) => {
    const { guard, asked } = guardWith({ allowed: true });
    const { context, audit } = requestTo(StepsController, handler, clerk);
    const refused = thrownBy(() => guard.canActivate(context));
    expect(refused).toBeInstanceOf(AccessError);
    expect((refused as AccessError).code).toBe(AccessErrorCode.Forbidden);
    expect(asked).toEqual([]);
    expect(audit.decision).toMatchObject({ allowed: false, policyVersion: 'policy-7', rule: expect.stringContaining(`StepsController.${handler}`) });
    expect(entryFor(audit, { status: 403 }, new Date()).outcome).toBe(4);
  });

  it('refuses a request with no actor', () => {
    const { guard, asked } = guardWith({ allowed: true });
    expect(guard.canActivate(requestTo(StepsController, 'approve', undefined).context)).toBe(false);
    expect(asked).toEqual([]);
  });
});

import { Injectable, SetMetadata, createParamDecorator, type CanActivate, type ExecutionContext, type NestMiddleware } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { requestOf, type HttpRequest, type HttpResponse, type Next } from '../common/http-exchange.js';
import type { Actor } from './actor.js';
import { IdentityError, IdentityErrorCode } from './identity.errors.js';
import { TokenVerifier } from './token.verifier.js';

const PUBLIC = 'chartwarden:public';

/** Marks a route that needs no token (only `GET /fhir/metadata`). */
export const Public = () => SetMetadata(PUBLIC, true);

type RequestWithActor = HttpRequest & { actor?: Actor };

/** Writes an error response for a request stopped before any handler (the FHIR module passes its OperationOutcome writer). */
export type EarlyErrorWriter = (res: HttpResponse, error: unknown) => void;

/**
 * Verifies the bearer token first thing, before the body is even read: an
 * unidentified caller learns nothing about body limits or parsing, and costs nothing.
 * Sets `req.actor`; ends the request with 401 otherwise.
 */
export function bearerAuthMiddleware(verifier: TokenVerifier, writeError: EarlyErrorWriter): NestMiddleware['use'] {
  return (req: RequestWithActor, res: HttpResponse, next: Next) => {
    verifier.verifyAuthorization(req.headers.authorization).then(
      (actor) => {
        req.actor = actor;
        next();
      },
      (e: unknown) => writeError(res, e),
    );
  };
}

/**
 * The second line of R-01: a route runs only with a verified `Actor` on the request (set by
 * the middleware above), unless it is marked `@Public()`. It never verifies by itself, so it
 * cannot be the reason a request gets through.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])) return true;
    if (!(requestOf(context) as RequestWithActor).actor) {
      throw new IdentityError(IdentityErrorCode.MissingToken, 'This request needs Authorization: Bearer <token>');
    }
    return true;
  }
}

/** The verified operator of this request. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const actor = (requestOf(context) as RequestWithActor).actor;
  if (!actor) throw new IdentityError(IdentityErrorCode.MissingToken, 'This request needs Authorization: Bearer <token>');
  return actor;
});

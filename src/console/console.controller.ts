import { Controller, Get, Inject, Logger, Param, Post, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import send from 'send';
import { HttpReq, rawResponse, requestPath, sendJson, setHeaders, type HttpRequest, type HttpResponse, type PlatformResponse } from '../common/http-exchange.js';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { Permission } from '../fhir/route-permission.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { consoleConfig } from './console-config.js';
import { ConsoleExceptionFilter } from './console-exception.filter.js';
import { CONSOLE_HEADERS, ConsoleFiles, consoleCsp, newNonce } from './console-files.js';
import { ConsoleSignInSettings } from './console-sign-in.settings.js';
import { ConsoleError, ConsoleErrorCode } from './console.errors.js';
import { demoUsers, fromThisMachine, signInAsDemoUser } from './dev-sign-in.js';

/**
 * The staff console (issue #18) under `/console`: the built app (one page for every path of
 * it, so deep links open; its hashed files), its configuration (`config.json`: how staff sign
 * in, the hospital's time zone and name, the R-30 checklists) and, in dev key mode only, the
 * development sign-in. Nothing here reads or writes a record: the console calls the same API
 * as any client, with the signed-in person's token, and shows what the API answers.
 */
@ApiExcludeController()
@Controller()
@UseFilters(ConsoleExceptionFilter)
export class ConsoleController {
  private readonly logger = new Logger('Console');

  constructor(
    @Inject(CHARTWARDEN_OPTIONS) private readonly options: ChartWardenOptions,
    private readonly signIn: ConsoleSignInSettings,
    private readonly policy: LoadedPolicy,
    private readonly files: ConsoleFiles,
  ) {}

  @Get()
  @Permission.public('the server\'s root sends a browser to the console, which signs in before it shows anything')
  root(@HttpReq() req: HttpRequest, @Res() reply: PlatformResponse) {
    const res = rawResponse(reply);
    if (!this.options.console?.enabled || !this.options.console.redirectRoot) return notARoute(req, res);
    res.writeHead(302, { Location: '/console/', 'Content-Length': '0' }).end();
  }

  @Get('console/config.json')
  @Permission.public('how staff sign in and the policy\'s settings the console displays (time zone, hospital, R-30 checklists): no record, no person')
  config(@HttpReq() req: HttpRequest, @Res() reply: PlatformResponse) {
    const res = rawResponse(reply);
    if (!this.options.console?.enabled) return notARoute(req, res);
    sendJson(res, 200, consoleConfig(this.signIn.value, this.policy), { ...CONSOLE_HEADERS, 'Cache-Control': 'no-store' });
  }

  @Get('console/api/demo-users')
  @Permission.public('the development sign-in lists the demo users (dev key mode only, to this machine; absent with a JWKS)')
  demoUsers(@HttpReq() req: HttpRequest, @Res() reply: PlatformResponse) {
    const res = rawResponse(reply);
    if (!this.devSignIn(req)) return notARoute(req, res);
    sendJson(res, 200, demoUsers(), { ...CONSOLE_HEADERS, 'Cache-Control': 'no-store' });
  }

  @Post('console/api/demo-users/:id/token')
  @Permission.public('the development sign-in: a short dev token for a listed demo user, with exactly their claims (dev key mode only, to this machine; absent with a JWKS)')
  async demoToken(@HttpReq() req: HttpRequest, @Res() reply: PlatformResponse, @Param('id') id: string) {
    const res = rawResponse(reply);
    if (!this.devSignIn(req)) return notARoute(req, res);
    const signed = await signInAsDemoUser(this.options, id);
    this.logger.log(`development sign-in: a token for demo user ${signed.user.id} (${signed.user.roles.join(', ')}) until ${signed.expiresAt}`);
    sendJson(res, 201, signed, { ...CONSOLE_HEADERS, 'Cache-Control': 'no-store' });
  }

  /** The development sign-in exists with the console on, in dev key mode, for a browser on this machine only. */
  private devSignIn(req: HttpRequest): boolean {
    return Boolean(this.options.console?.enabled) && this.signIn.value.dev && fromThisMachine(req.socket.remoteAddress);
  }

  @Get('console/api/*path')
  @Permission.public('answers 404 for what is not a console route, so a mistyped call is never answered with the page')
  unknownApi(@HttpReq() req: HttpRequest, @Res() reply: PlatformResponse) {
    if (!this.options.console?.enabled) return notARoute(req, rawResponse(reply));
    throw new ConsoleError(ConsoleErrorCode.NotFound, `${requestPath(req)} is not a console route`);
  }

  @Get(['console', 'console/*path'])
  @Permission.public('the console\'s page and files: the app itself, which shows nothing before its user signs in')
  app(@HttpReq() req: HttpRequest, @Res() reply: PlatformResponse, @Param() params: Record<string, string | string[] | undefined>) {
    if (!this.options.console?.enabled) return notARoute(req, rawResponse(reply));
    if (!this.files.built) throw new ConsoleError(ConsoleErrorCode.NotBuilt, 'The console is not built: run `npm run build` (it writes dist/console)');
    const file = this.files.resolve(wildcardPath(params));
    if (file.kind === 'missing') throw new ConsoleError(ConsoleErrorCode.NotFound, 'No such file of the console');
    const res = rawResponse(reply);
    setHeaders(res, CONSOLE_HEADERS);
    if (file.kind === 'file') {
      res.setHeader('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      // Express's `sendFile` is this: conditional GETs, ranges, the type by the file's name.
      send(req, encodeURI(file.path), { etag: true })
        .on('error', (e: { status?: number }) => {
          if (!res.headersSent) sendJson(res, e.status ?? 500, { statusCode: e.status ?? 500, error: 'Could not send the file' });
          else res.destroy();
        })
        .pipe(res);
      return;
    }
    const nonce = newNonce();
    const page = Buffer.from(this.files.pageWith(nonce));
    setHeaders(res, {
      'Content-Security-Policy': consoleCsp(nonce, this.signIn.value),
      'Cache-Control': 'no-store',
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(page.length),
    });
    res.end(page);
  }
}

/** The path under `/console/` a wildcard route matched: Express 5 names its segments (`*path`), Fastify gives the rest as `*`. */
function wildcardPath(params: Record<string, string | string[] | undefined>): string {
  const path = params.path ?? params['*'];
  return Array.isArray(path) ? path.join('/') : (path ?? '');
}

/** Answers exactly as a path no route serves: what is off (the console unless enabled, the dev sign-in in JWKS mode) does not show it exists. */
function notARoute(req: HttpRequest, res: HttpResponse): void {
  sendJson(res, 404, { message: `Cannot ${req.method} ${requestPath(req)}`, error: 'Not Found', statusCode: 404 });
}

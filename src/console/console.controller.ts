import { Controller, Get, Inject, Logger, Param, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
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
  root(@Req() req: Request, @Res() res: Response) {
    if (!this.options.console?.enabled || !this.options.console.redirectRoot) return notARoute(req, res);
    res.redirect(302, '/console/');
  }

  @Get('console/config.json')
  @Permission.public('how staff sign in and the policy\'s settings the console displays (time zone, hospital, R-30 checklists): no record, no person')
  config(@Req() req: Request, @Res() res: Response) {
    if (!this.options.console?.enabled) return notARoute(req, res);
    res.set({ ...CONSOLE_HEADERS, 'Cache-Control': 'no-store' }).json(consoleConfig(this.signIn.value, this.policy));
  }

  @Get('console/api/demo-users')
  @Permission.public('the development sign-in lists the demo users (dev key mode only, to this machine; absent with a JWKS)')
  demoUsers(@Req() req: Request, @Res() res: Response) {
    if (!this.devSignIn(req)) return notARoute(req, res);
    res.set({ ...CONSOLE_HEADERS, 'Cache-Control': 'no-store' }).json(demoUsers());
  }

  @Post('console/api/demo-users/:id/token')
  @Permission.public('the development sign-in: a short dev token for a listed demo user, with exactly their claims (dev key mode only, to this machine; absent with a JWKS)')
  async demoToken(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    if (!this.devSignIn(req)) return notARoute(req, res);
    const signed = await signInAsDemoUser(this.options, id);
    this.logger.log(`development sign-in: a token for demo user ${signed.user.id} (${signed.user.roles.join(', ')}) until ${signed.expiresAt}`);
    res.status(201).set({ ...CONSOLE_HEADERS, 'Cache-Control': 'no-store' }).json(signed);
  }

  /** The development sign-in exists with the console on, in dev key mode, for a browser on this machine only. */
  private devSignIn(req: Request): boolean {
    return Boolean(this.options.console?.enabled) && this.signIn.value.dev && fromThisMachine(req.socket.remoteAddress);
  }

  @Get('console/api/*path')
  @Permission.public('answers 404 for what is not a console route, so a mistyped call is never answered with the page')
  unknownApi(@Req() req: Request, @Res() res: Response) {
    if (!this.options.console?.enabled) return notARoute(req, res);
    throw new ConsoleError(ConsoleErrorCode.NotFound, `${req.path} is not a console route`);
  }

  @Get(['console', 'console/*path'])
  @Permission.public('the console\'s page and files: the app itself, which shows nothing before its user signs in')
  app(@Req() req: Request, @Res() res: Response, @Param('path') path: string[] | string | undefined) {
    if (!this.options.console?.enabled) return notARoute(req, res);
    if (!this.files.built) throw new ConsoleError(ConsoleErrorCode.NotBuilt, 'The console is not built: run `npm run build` (it writes dist/console)');
    const file = this.files.resolve(Array.isArray(path) ? path.join('/') : (path ?? ''));
    if (file.kind === 'missing') throw new ConsoleError(ConsoleErrorCode.NotFound, 'No such file of the console');
    res.set(CONSOLE_HEADERS);
    if (file.kind === 'file') {
      res.set('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return res.sendFile(file.path);
    }
    const nonce = newNonce();
    res
      .set({ 'Content-Security-Policy': consoleCsp(nonce, this.signIn.value), 'Cache-Control': 'no-store', 'Content-Type': 'text/html; charset=utf-8' })
      .send(this.files.pageWith(nonce));
  }
}

/** Answers exactly as a path no route serves: what is off (the console unless enabled, the dev sign-in in JWKS mode) does not show it exists. */
function notARoute(req: Request, res: Response): void {
  res.status(404).json({ message: `Cannot ${req.method} ${req.path}`, error: 'Not Found', statusCode: 404 });
}

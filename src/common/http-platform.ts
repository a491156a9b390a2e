import type { IncomingMessage } from 'node:http';
import type { Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { HttpRequest, HttpResponse } from './http-exchange.js';

/*
 * What ChartWarden adjusts to the platform its host runs (decision 0021), once, from the root
 * module's `configure` (after the host chose its adapter, before Nest registers any route).
 * Everything else is written once for both: see `http-exchange.ts`.
 */

/** A route path's trailing wildcard as Express 5 (path-to-regexp v8) needs it: named. */
const NAMED_WILDCARD = /(^|\/)\*path$/;
/** The route paths as the controllers declare them (for Express), kept once rewritten for Fastify. */
const DECLARED = Symbol('chartwarden.declared-path');

type RoutePath = string | string[];
type Handler = { [DECLARED]?: RoutePath };

/**
 * Fits the controllers' trailing wildcards to the platform's router: Express 5 needs a named
 * one (`console/*path`, as declared), Fastify's (find-my-way) a bare one (`console/*`, its rest
 * read as the `*` parameter). Idempotent, and back again: a process may start one app of each.
 */
export function fitWildcardRoutes(platform: string | undefined, controllers: readonly Type[]): void {
  const forPlatform = (path: string) => (platform === 'fastify' ? path.replace(NAMED_WILDCARD, '$1*') : path);
  for (const controller of controllers) {
    for (const key of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = Object.getOwnPropertyDescriptor(controller.prototype, key)?.value as (Handler & object) | undefined;
      if (typeof handler !== 'function') continue;
      const declared = handler[DECLARED] ?? (Reflect.getMetadata(PATH_METADATA, handler) as RoutePath | undefined);
      if (declared === undefined || !wildcardIn(declared)) continue;
      handler[DECLARED] = declared;
      Reflect.defineMetadata(PATH_METADATA, eachPath(declared, forPlatform), handler);
    }
  }
}

/** `change` applied to a route path, or to each of a route's paths. */
function eachPath(path: RoutePath, change: (path: string) => string): RoutePath {
  return typeof path === 'string' ? change(path) : path.map(change);
}

/** Whether a declared route path ends in a wildcard. */
export function wildcardIn(path: RoutePath): boolean {
  return (Array.isArray(path) ? path : [path]).some((p) => NAMED_WILDCARD.test(p));
}

/** The request a Fastify content-type parser gets (its `raw` is node's). */
interface ParsedRequest {
  raw: IncomingMessage & { body?: unknown };
}
type ParserDone = (error: Error | null, body?: unknown) => void;

interface FastifyParsers {
  initialConfig: { bodyLimit?: number };
  removeAllContentTypeParsers(): void;
  addContentTypeParser(type: string, parser: (request: ParsedRequest, payload: NodeJS.ReadableStream, done: ParserDone) => void): void;
  getDefaultJsonParser(onProto: 'error', onConstructor: 'error'): (request: ParsedRequest, body: string, done: ParserDone) => void;
}

/**
 * On Fastify, the body ChartWarden's middleware read (`FhirBodyMiddleware`, with body-parser: its
 * limits, its refusals) is the body: Fastify parses after middleware, and would otherwise wait
 * for a stream already read. Its own parsers are replaced by one that hands that body on, and
 * reads a host route's body as Fastify's defaults would (JSON, as its default parser does, and
 * plain text; 415 for any other type), within the server's `bodyLimit`. Nothing on Express,
 * whose routes read no body unless a middleware does.
 */
export function fitBodyParsing(adapter: AbstractHttpAdapter | undefined): void {
  if (adapter?.getType() !== 'fastify') return;
  const fastify = adapter.getInstance<FastifyParsers>();
  const limit = fastify.initialConfig.bodyLimit ?? 1024 * 1024;
  const json = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request, payload, done) => {
    // Read to its end already: by ChartWarden's middleware, which left what it read as `body`.
    if (request.raw.readableEnded) return done(null, request.raw.body);
    const type = (request.raw.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json' && type !== 'text/plain') return done(withStatus(new Error(`Unsupported Media Type: ${type || '(none)'}`), 415));
    readText(payload, limit, (error, text) => {
      if (error || text === undefined) return done(error ?? new Error('no body'));
      if (type === 'text/plain') return done(null, text);
      json(request, text, done);
    });
  });
}

function readText(payload: NodeJS.ReadableStream, limit: number, done: (error: Error | null, text?: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (error: Error | null, text?: string) => {
    if (settled) return;
    settled = true;
    done(error, text);
  };
  payload.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) return settle(withStatus(new Error('Request body is too large'), 413));
    chunks.push(chunk);
  });
  payload.on('end', () => settle(null, Buffer.concat(chunks).toString('utf8')));
  payload.on('error', (e: Error) => settle(e));
}

function withStatus(error: Error, statusCode: number): Error {
  return Object.assign(error, { statusCode });
}


/** Who answers a request Fastify's router refused as a bad URL (a malformed percent-escape): the module's input guard, on its paths. */
export interface BadUrlAnswer {
  /** Whether the request is one of the module's (its path prefixes). */
  applies(req: HttpRequest): boolean;
  /** Answers it: an OperationOutcome, recorded (R-20). */
  answer(req: HttpRequest, res: HttpResponse): void;
}

const BAD_URL_ANSWERS = new WeakMap<object, BadUrlAnswer>();

/**
 * Lets the module answer the requests Fastify's router refuses before any hook runs (a URL
 * whose percent-escapes do not decode), as it answers them on Express, where its input guard
 * sees them first. Nothing on Express. Takes effect through `fastifyFrameworkErrors`, which the
 * Fastify server's options name (`FASTIFY_SERVER_OPTIONS`).
 */
export function answerBadUrls(adapter: AbstractHttpAdapter | undefined, answer: BadUrlAnswer): void {
  if (adapter?.getType() === 'fastify') BAD_URL_ANSWERS.set(adapter.getInstance<object>(), answer);
}

/** Fastify's request and reply, as its `frameworkErrors` option gets them. */
interface FrameworkRequest {
  raw: unknown;
  ip: string;
  protocol: string;
  server: object;
}
interface FrameworkReply {
  raw: unknown;
  hijack(): unknown;
}

/**
 * Fastify's `frameworkErrors` option: a bad URL on the module's paths goes to the module
 * (`answerBadUrls`), with the client's address and scheme Fastify read under `trustProxy`;
 * anything else is answered as Fastify answers it without the option.
 */
export function fastifyFrameworkErrors(error: Error & { code?: string; statusCode?: number }, request: FrameworkRequest, reply: FrameworkReply): void {
  const answer = BAD_URL_ANSWERS.get(request.server);
  const req = request.raw as HttpRequest;
  const res = reply.raw as HttpResponse;
  if (error.code === 'FST_ERR_BAD_URL' && answer?.applies(req)) {
    req.ip = request.ip;
    req.protocol = request.protocol;
    reply.hijack();
    answer.answer(req, res);
    return;
  }
  const status = error.statusCode ?? 400;
  const body = JSON.stringify({ error: status === 414 ? 'URI Too Long' : 'Bad Request', code: error.code, message: error.message, statusCode: status });
  reply.hijack();
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

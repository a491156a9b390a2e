import type { LoggerService } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import pretty from 'pino-pretty';
import { DEFAULT_LOG_LEVEL, type LogFormat, type LoggingOptions } from '../config/chartwarden.options.js';

/**
 * Nest's own start-up chatter (one line per module and per route): kept at warn and error,
 * so a start prints the facts that matter, not ~70 "Mapped {…} route" lines.
 */
const NEST_INTERNALS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication', 'RouterModule']);

/** Fields that could ever carry a credential: removed wherever they appear (defence in depth; nothing logs headers). */
const REDACT = ['authorization', 'headers.authorization', 'req.headers.authorization', '*.authorization', 'token', '*.token'];

/** The format when none is asked for: readable lines for a person at a terminal, JSON lines for everything else. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stdout): LogFormat {
  return stream.isTTY ? 'pretty' : 'json';
}

/**
 * A pino logger writing to stdout (synchronously: the last line before `process.exit` is not
 * lost). JSON: ISO-8601 UTC `time`, `level` as its name. Pretty: local time with its UTC
 * offset, 24-hour, colours when the terminal has them, the message first.
 */
export function createLogger(options: LoggingOptions = {}, destination?: NodeJS.WritableStream): Pino {
  const level = options.level ?? DEFAULT_LOG_LEVEL;
  if ((options.format ?? defaultLogFormat()) === 'pretty') {
    const stream = pretty({
      destination: destination ?? 1,
      sync: true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l o',
      // An access line's fields go on its one line (`access-log.ts`); the start-up facts are in their messages.
      ignore: 'pid,hostname,context,requestId,sub,interaction,method,path,status,durationMs,store,database,dataDir,policyVersion,port,url,startupMs',
      messageFormat: (log, key) => {
        const context = typeof log.context === 'string' ? `[${log.context}] ` : '';
        const access = log.requestId === undefined ? '' : ` ${String(log.interaction)} sub=${String(log.sub ?? '-')} id=${String(log.requestId)}`;
        return `${context}${String(log[key])}${access}`;
      },
    });
    return pino({ level, redact: REDACT }, stream);
  }
  return pino(
    { level, redact: REDACT, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Nest's `LoggerService` over pino: `Logger` calls anywhere in ChartWarden and Nest become pino lines with their context. */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    // Nest passes (message, stack, context) or (message, context).
    const context = rest.length > 1 ? rest[rest.length - 1] : rest[0];
    const stack = rest.length > 1 ? rest[0] : undefined;
    this.write('error', message, [context], typeof stack === 'string' ? stack : undefined);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, rest: unknown[], stack?: string): void {
    const last = rest[rest.length - 1];
    const context = typeof last === 'string' ? last : undefined;
    if (context && NEST_INTERNALS.has(context) && (level === 'info' || level === 'debug' || level === 'trace')) return;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (stack) fields.stack = stack;
    if (message instanceof Error) this.pino[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.pino[level]({ ...fields, ...(message as object) });
    else this.pino[level](fields, String(message));
  }
}

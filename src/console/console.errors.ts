import { ChartWardenError, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What the console's own routes refuse (issue #18). */
export enum ConsoleErrorCode {
  /** The development sign-in names someone who is not a demo user: 404 `not-found`. */
  UnknownDemoUser = 'console.unknown-demo-user',
  /** A path under `/console/api/` that is no route, or a console file that does not exist: 404 `not-found`. */
  NotFound = 'console.not-found',
  /** The console's files were not built (`npm run build`): 503 `transient`. */
  NotBuilt = 'console.not-built',
}

const CONSOLE_ANSWERS: ErrorAnswers<ConsoleErrorCode> = {
  [ConsoleErrorCode.UnknownDemoUser]: { status: 404, issue: 'not-found' },
  [ConsoleErrorCode.NotFound]: { status: 404, issue: 'not-found' },
  [ConsoleErrorCode.NotBuilt]: { status: 503, issue: 'transient' },
};

/** Thrown by the console's routes. */
export class ConsoleError extends ChartWardenError<ConsoleErrorCode> {
  constructor(code: ConsoleErrorCode, message: string) {
    super(code, message);
  }

  override get answer() {
    return CONSOLE_ANSWERS[this.code];
  }
}

/**
 * The one source of "now". Deadlines, edit windows, token expiry and `meta.lastUpdated`
 * all read it, so tests can move time instead of waiting for it.
 */
export abstract class Clock {
  abstract now(): Date;
}

/** The wall clock of this machine. */
export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

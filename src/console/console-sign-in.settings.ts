import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { consoleSignIn, type ConsoleSignIn } from './console-settings.js';

/** How staff sign in to this server's console, settled once at start-up (a bad setting stops it). */
export class ConsoleSignInSettings {
  constructor(readonly value: ConsoleSignIn) {}

  static from(options: ChartWardenOptions): ConsoleSignInSettings {
    return new ConsoleSignInSettings(consoleSignIn(options));
  }
}

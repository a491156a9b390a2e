import { buildCli, CliFailure } from './cli.js';

/**
 * Entry point of `npx chartwarden` (see `bin/chartwarden.js`). Every failure is one line on
 * stderr and exit code 1: a command's verdict (`CliFailure`) as it is, anything else prefixed
 * `chartwarden:`, never a stack.
 */
function fail(e: unknown): never {
  const message = e instanceof CliFailure ? e.message : `chartwarden: ${e instanceof Error ? e.message : String(e)}`;
  console.error(message);
  process.exit(1);
}

// A stream's error nobody awaited (a file that cannot be written) would otherwise print Node's raw stack.
process.on('unhandledRejection', fail);
process.on('uncaughtException', fail);

buildCli().parseAsync(process.argv).catch(fail);

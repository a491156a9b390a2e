import { buildCli, CliFailure } from './cli.js';

/** Entry point of `npx chartwarden` (see `bin/chartwarden.js`). */
buildCli()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    console.error(e instanceof CliFailure ? e.message : `chartwarden: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });

import { buildCli } from './cli.js';

/** Entry point of `npx chartwarden` (see `bin/chartwarden.js`). */
buildCli()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    console.error(`chartwarden: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });

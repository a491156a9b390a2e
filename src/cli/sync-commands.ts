import type { Command } from 'commander';

/**
 * `npx chartwarden sync status|run`: the remote store's sync from the upstream's history (issue #17,
 * decision 0017). `status` reads ChartWarden's database only; `run` syncs once now, as the server's
 * schedule does (one instance at a time: a run while another is in progress is skipped). What they
 * do is in `sync-actions.ts`, loaded when one of them runs.
 */
export function registerSyncCommands(program: Command, databaseUrl: () => Promise<string>, failure: (message: string) => Error): void {
  const sync = program.command('sync').description("The remote store's sync from the upstream FHIR server's history (issue #17)");
  sync
    .command('status')
    .description('Where the sync stands: its cursor, last run and outcome, the versions it saw and adopted, the latest adopted')
    .action(async () => (await import('./sync-actions.js')).syncStatus(databaseUrl, failure));
  sync
    .command('run')
    .description("Sync once now from the upstream's history (needs CHARTWARDEN_UPSTREAM_FHIR_URL and its credentials, as the server has them)")
    .action(async () => (await import('./sync-actions.js')).syncRun(databaseUrl, failure));
}

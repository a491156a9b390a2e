import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { dayEndsAt, hospitalDay } from '../common/hospital-time.js';
import { packageRoot } from '../common/package-root.js';
import { DataDirLock, ensureWritableDir } from '../database/data-dir-lock.js';
import { probeDatabase } from '../database/database-unreachable.js';
import { DEV_KEY_FILE } from '../identity/dev-signing-key.js';
import { PolicyLoadError } from '../policy/policy.errors.js';
import { settingsFromEnv, type ServerSettings } from '../config/env.config.js';
import { verifyAuditChains } from '../audit/audit-verifier.js';
import { writeCheckpoint } from '../audit/checkpoint.js';
import { IntegrityRunError } from '../audit/integrity.errors.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../policy/policy.loader.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { NO_PROGRESS, type Progress } from '../common/progress.js';
import { EmbeddedPostgresLauncher } from '../database/embedded-postgres.launcher.js';
import { LICENCE_STATUSES, type LicenceStatus } from '../identity/actor.js';
import { DevTokenError, issueDevToken } from '../identity/dev-token.issuer.js';
import { registerSyncCommands } from './sync-commands.js';

/*
 * Loaded by the commands that use them: the demo hospital brings the whole module (1.2 s), the
 * integrity runs TypeORM (0.6 s), the offline checks the store (0.7 s), backups their streams. `npx chartwarden token` and `--help`
 * took 2.6 s, almost all of it loading these; the server's start, the guides' walkthroughs and
 * CI run `token` many times.
 */
const integrityRuns = () => import('../audit/integrity-runs.js');
const offlineChecks = () => import('./offline-checks.js');
const backups = () => import('./backup.js');
const demoHospital = () => Promise.all([import('../demo/demo.command.js'), import('../demo/demo-api.js')]);

/**
 * `npx chartwarden <command>`: the admin CLI. Reads the same environment as the server
 * (CHARTWARDEN_DATA_DIR above all), so a token it signs is one that server accepts.
 */
export function buildCli(): Command {
  const program = new Command('chartwarden').description('ChartWarden administration').showHelpAfterError().version(packageVersion(), '-V, --version');

  program
    .command('token')
    .description('Print a development JWT signed with the data dir\'s dev key (nothing else on stdout)')
    .requiredOption('--sub <id>', 'the operator (practitioner or system client) id')
    .requiredOption('--role <roles>', 'role or comma-separated roles', (v) => v.split(',').map((r) => r.trim()).filter(Boolean))
    .option('--dept <code>', 'department code')
    .option('--specialty <code>', 'specialty code')
    .option('--licence <status>', `licence status: ${LICENCE_STATUSES.join('|')}`, (v) => {
      if (!LICENCE_STATUSES.includes(v as LicenceStatus)) throw new InvalidArgumentError(`must be one of ${LICENCE_STATUSES.join(', ')}`);
      return v as LicenceStatus;
    })
    .option('--scope <scopes>', 'SMART on FHIR scopes, space separated')
    .option('--fhir-user <ref>', 'fhirUser claim, e.g. Practitioner/123')
    .option('--ttl <span>', 'lifetime, e.g. 30m, 1h, 8h', (v) => {
      if (!/^\d+\s*(s|m|h|d)$/.test(v)) throw new InvalidArgumentError('use a number and s, m, h or d, e.g. 1h');
      return v;
    }, '1h')
    .action(async (o: { sub: string; role: string[]; dept?: string; specialty?: string; licence?: LicenceStatus; scope?: string; fhirUser?: string; ttl: string }) => {
      const settings = settingsFromEnv();
      // a role the policy does not define has no rules; a token naming one is a typo, not a grant.
      const known = loadServerPolicy(settings).roleNames;
      const unknown = o.role.filter((r) => !known.includes(r));
      if (unknown.length) {
        throw new CliFailure(`token: unknown role${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: the policy defines ${known.join(', ')}`);
      }
      const { dataDir } = settings;
      // A token signed with the wrong data dir's key is refused by the server: say which key signs it when that may be so.
      const keyExisted = existsSync(join(dataDir, DEV_KEY_FILE));
      const server = await DataDirLock.runningServer(dataDir);
      if (!keyExisted) {
        await ensureWritableDir(dataDir).catch((e: unknown) => {
          throw new CliFailure(`token: ${(e as Error).message}`);
        });
        process.stderr.write(
          `token: WARNING: no signing key in ${dataDir}: creating a NEW one. Only a server started on this data dir accepts the token; ` +
            'run the command where the server runs, or set CHARTWARDEN_DATA_DIR to its data dir.\n',
        );
      } else if (!server) {
        process.stderr.write(
          `token: warning: no ChartWarden server is running on ${dataDir}; the token is signed with that data dir's key, which only its server accepts.\n`,
        );
      }
      const token = await issueDevToken(dataDir, {
        sub: o.sub,
        roles: o.role,
        department: o.dept,
        specialty: o.specialty,
        licence: o.licence,
        scope: o.scope,
        fhirUser: o.fhirUser,
        ttl: o.ttl,
      }, settings.options.identity?.maxTokenLifetimeMinutes).catch((e: unknown) => {
        throw e instanceof DevTokenError ? new CliFailure(`token: ${e.message}`) : e;
      });
      process.stdout.write(token + '\n');
    });

  const audit = program.command('audit').description('The audit trail (R-20, R-21)');
  audit
    .command('verify')
    .description('Recompute every audit chain in parallel; exit 1 naming the first broken link')
    .option('--since <date>', 'verify entries recorded since this date or instant (trusting the link the first one carries)', (v) => {
      const d = new Date(v);
      if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('use a date like 2026-11-01 or an instant');
      return d;
    })
    .option('--checkpoint <file>', 'also prove that nothing at or before the heads of this signed checkpoint (`audit checkpoint`) changed or vanished')
    .action(async (o: { since?: Date; checkpoint?: string }) => {
      const url = await databaseUrl();
      // A checkpoint whose signature fails proves nothing: say so before anything else.
      const { verifyCheckpointOf } = await offlineChecks();
      const against = o.checkpoint ? await verifyCheckpointOf(url, o.checkpoint, settingsFromEnv().dataDir) : undefined;
      const signature = against?.problems.find((p) => p.problem === 'signature');
      if (signature) throw new CliFailure(`audit verify: checkpoint ${o.checkpoint} REJECTED — ${signature.detail}`);
      // Recorded as an integrity run (issue #18): the auditors' console shows when the trail was last verified and how it ended.
      let report!: Awaited<ReturnType<typeof verifyAuditChains>>;
      const scope = o.since ? `since ${o.since.toISOString()}` : undefined;
      const { recordRun, cliStarter } = await integrityRuns();
      await recordRun(url, 'audit', cliStarter(), async () => {
        report = await verifyAuditChains(url, { since: o.since, progress: progressBar('audit verify', 'chains') });
        // A difference from the checkpoint breaks the run as it breaks the command.
        const off = report.broken ? undefined : against?.problems[0];
        return off ? { ...report, broken: { ...off, detail: `against checkpoint ${o.checkpoint} of ${against?.taken}: ${off.detail}` } } : report;
      }, { scope }).catch(refusedRun('audit verify'));
      const rate = report.ms > 0 ? Math.round((report.entries / report.ms) * 1000) : report.entries;
      if (report.broken) {
        for (const c of report.chains.filter((x) => x.broken && x.broken !== report.broken)) process.stderr.write(`  also broken: ${c.broken?.detail}\n`);
        for (const p of against?.problems ?? []) process.stderr.write(`  also against the checkpoint: ${p.detail}\n`);
        throw new CliFailure(`audit verify: BROKEN — ${report.broken.detail} (${report.broken.problem})`);
      }
      if (against?.problems.length) {
        for (const p of against.problems.slice(1)) process.stderr.write(`  also against the checkpoint: ${p.detail}\n`);
        const [first] = against.problems;
        throw new CliFailure(`audit verify: BROKEN against checkpoint ${o.checkpoint} of ${against.taken} — ${first.detail} (${first.problem})`);
      }
      process.stdout.write(`audit verify: ${report.chains.length} chains, ${report.entries} entries intact (${report.ms} ms, ${rate} entries/s)\n`);
      if (against) {
        process.stdout.write(`  checkpoint ${o.checkpoint} of ${against.taken}: ${against.chains} chain heads and ${against.documents} documents' ledger entries unchanged\n`);
      }
      for (const c of report.chains.filter((x) => x.headSeq > 0)) process.stdout.write(`  chain ${c.chain}: head ${c.headSeq} ${c.head}\n`);
    });
  audit
    .command('checkpoint')
    .description("Write a checkpoint signed with the data dir's key: every audit chain's head and every document's last ledger entry (R-21); keep it off this host")
    .requiredOption('--out <file>', 'file to write (JSON)')
    .action(async (o: { out: string }) => {
      const { takeCheckpointOf } = await offlineChecks();
      const checkpoint = await takeCheckpointOf(await databaseUrl(), settingsFromEnv().dataDir);
      await writeCheckpoint(o.out, checkpoint);
      process.stdout.write(`audit checkpoint: ${o.out} (${checkpoint.chains.length} chain heads, ${checkpoint.ledger.documents.length} documents, ledger root ${checkpoint.ledger.root}, key ${checkpoint.key})\n`);
    });

  const ledger = program.command('ledger').description('The edit ledger of clinical documents (R-12, R-17)');
  ledger
    .command('verify')
    .description('Recompute every document\'s ledger chain and the versions it records; exit 1 naming the first broken link')
    .option('--document <Type/id>', 'one document, e.g. Composition/123', (v) => {
      if (!/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(v)) throw new InvalidArgumentError('use Type/id, e.g. Composition/123');
      return v;
    })
    .action(async (o: { document?: string }) => {
      const url = await databaseUrl();
      // Recorded as an integrity run (issue #18), like `audit verify`.
      const [{ recordRun, cliStarter }, { verifyLedger }] = await Promise.all([integrityRuns(), offlineChecks()]);
      const report = await recordRun(url, 'ledger', cliStarter(), () => verifyLedger(url, { document: o.document, progress: progressBar('ledger verify', 'versions') }), {
        scope: o.document,
      }).catch(refusedRun('ledger verify'));
      if (o.document && report.documents === 0) throw new CliFailure(`ledger verify: unknown document ${o.document}: the edit ledger holds no version of it`);
      if (report.broken) {
        for (const b of report.breaks.slice(1)) process.stderr.write(`  also broken: ${b.detail}\n`);
        throw new CliFailure(`ledger verify: BROKEN — ${report.broken.detail} (${report.broken.problem})`);
      }
      process.stdout.write(`ledger verify: ${report.documents} documents, ${report.entries} versions intact (${report.ms} ms)\n`);
      process.stdout.write(`  ledger root: ${report.root}\n`);
    });

  const seal = program.command('seal').description('Records sealed under dispute (R-40…R-43)');
  seal
    .command('verify')
    .argument('<dispute-id>', 'the case id')
    .description("Recompute a case's inventory hashes against its sealed copies and the store; exit 1 listing every difference (R-42)")
    .action(async (id: string) => {
      const { verifySeal } = await offlineChecks();
      const report = await verifySeal(await databaseUrl(), id);
      if (report.problems.length) {
        for (const p of report.problems) process.stderr.write(`  ${p.problem}: ${p.detail}\n`);
        throw new CliFailure(`seal verify: ${report.problems.length} DIFFERENCES in dispute ${id}`);
      }
      process.stdout.write(`seal verify: dispute ${id} (${report.status}): ${report.sealed} sealed records, ${report.pending} pending, ${report.copies} sealed copies intact (${report.ms} ms)\n`);
    });

  const retention = program.command('retention').description('Record retention (R-18)');
  retention
    .command('report')
    .description("Patients whose records have reached the policy's retention (15 years after the last visit, 30 after the last discharge); reads only, deletes nothing")
    .option('--as-of <date>', "the hospital's day to judge on (YYYY-MM-DD, in the policy's settings.timeZone; default now)", (v) => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v))) throw new InvalidArgumentError('use YYYY-MM-DD');
      return v;
    })
    .action(async (o: { asOf?: string }) => {
      const policy = loadServerPolicy(settingsFromEnv());
      // The hospital's day (policy settings.timeZone), to its last instant; its calendar counts the years.
      const { timeZone } = policy;
      const asOf = o.asOf ? dayEndsAt(o.asOf, timeZone) : new Date();
      const { retentionReport } = await offlineChecks();
      const report = await retentionReport(await databaseUrl(), policy.recordRetention, asOf, timeZone);
      const day = (instant: string | undefined) => hospitalDay(instant, timeZone) ?? '—';
      process.stdout.write(
        `retention report as of ${report.asOf}: ${report.reached.length} of ${report.patients} patients have reached their retention ` +
          `(${report.outpatientYears} years after the last outpatient visit, ${report.inpatientYears} after the last discharge); nothing was deleted (${report.ms} ms)\n`,
      );
      for (const r of report.reached) {
        process.stdout.write(`  ${r.patient}  kept until ${day(r.keptUntil)}  (last visit ${day(r.lastOutpatientVisit)}, last discharge ${day(r.lastDischarge)})\n`);
      }
    });

  program
    .command('backup')
    .description('Write a consistent backup of ChartWarden\'s database and <file>.manifest.json (R-50)')
    .requiredOption('--out <file>', 'archive to write')
    .action(async (o: { out: string }) => {
      const { backup, BackupFileError } = await backups();
      const manifest = await backup(await databaseUrl(), o.out, progressBar('backup')).catch(asFailure(BackupFileError));
      const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
      process.stdout.write(`backup: ${o.out} (${manifest.archive.bytes} bytes, ${rows} rows in ${manifest.tables.length} tables, sha256 ${manifest.archive.sha256})\n`);
      process.stdout.write(`manifest: ${o.out}.manifest.json\n`);
    });

  program
    .command('restore-drill')
    .description('Restore a backup into a scratch database, verify it against its manifest, and drop it (R-50)')
    .requiredOption('--from <file>', 'archive written by `chartwarden backup`')
    .action(async (o: { from: string }) => {
      const { restoreDrill, BackupFileError } = await backups();
      const report = await restoreDrill(await databaseUrl(), o.from, progressBar('restore')).catch(asFailure(BackupFileError));
      for (const t of report.tables) process.stdout.write(`  ${t.name}: ${t.restored}/${t.expected} rows\n`);
      process.stdout.write(`  audit trail: ${report.audit.chains.length} chains, ${report.audit.entries} entries${report.audit.broken ? ' BROKEN' : ' intact'}\n`);
      process.stdout.write(`  edit ledger: ${report.ledger.documents} documents, ${report.ledger.entries} versions${report.ledger.broken ? ' BROKEN' : ' intact'}\n`);
      if (report.upgradedWith.length) process.stdout.write(`  upgraded with: ${report.upgradedWith.join(', ')}\n`);
      if (!report.ok) {
        for (const p of report.problems) process.stderr.write(`restore-drill: ${p}\n`);
        throw new CliFailure(`restore-drill: FAILED (${report.problems.length} problems; scratch database ${report.scratchDatabase} dropped)`);
      }
      process.stdout.write(`restore-drill: OK in ${report.ms} ms (scratch database ${report.scratchDatabase} dropped)\n`);
    });

  const policy = program.command('policy').description('The access policy (R-01…R-07)');
  policy
    .command('reload')
    .description('Validate the policy file the server loads (CHARTWARDEN_POLICY or the shipped one), then ask the running server to reload it (SIGHUP)')
    .action(async () => {
      const settings = settingsFromEnv();
      const path = policyPath(settings);
      let loaded: LoadedPolicy;
      try {
        loaded = new LoadedPolicy(loadPolicy(path, loadR4Definitions()));
      } catch (e) {
        if (!(e instanceof PolicyLoadError)) throw e;
        const problems = e.message.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
        for (const p of problems) process.stderr.write(`policy reload: ${path}: ${p}\n`);
        if (!problems.length) throw new CliFailure(`policy reload: ${e.message}`);
        throw new CliFailure(`policy reload: ${path} is invalid (${problems.length} problem${problems.length > 1 ? 's' : ''}); nothing was sent`);
      }
      const server = await DataDirLock.runningServer(settings.dataDir);
      if (!server) {
        throw new CliFailure(`policy reload: no ChartWarden server is running on ${settings.dataDir}; nothing to reload (the policy ${path} is valid)`);
      }
      try {
        process.kill(server.pid, 'SIGHUP');
      } catch (e) {
        throw new CliFailure(`policy reload: could not signal the server pid ${server.pid}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      process.stdout.write(
        `policy reload: ${path} is valid (version ${loaded.version}); sent SIGHUP to the server pid ${server.pid} on ${settings.dataDir}: ` +
          'its log says when the new policy is in force\n',
      );
    });

  const demo = program.command('demo').description('A small demo hospital for newcomers (issue #18)');
  demo
    .command('seed')
    .description(
      'Fill a fresh data dir (or DATABASE_URL) with a demo hospital through the API: staff, patients, records, a copy request in each status, ' +
        'a sealed case and a public incident. Refuses while a server runs on the data dir and on a database holding patients; a data dir seeded before is left as it is',
    )
    .action(async () => {
      const settings = settingsFromEnv();
      const [{ seedDemoHospital, seedSummary }, { DemoAlreadySeeded, DemoSeedError }] = await demoHospital();
      const progress = (line: string) => {
        if (process.stderr.isTTY) process.stderr.write(`demo seed: ${line}…\n`);
      };
      const report = await seedDemoHospital(settings, progress).catch((e: unknown) => {
        // Seeded before: said, and no failure, so `npx chartwarden demo seed && npm start` can be run again.
        if (e instanceof DemoAlreadySeeded) return `demo seed: ${e.message}\n`;
        throw e instanceof DemoSeedError ? new CliFailure(`demo seed: ${e.message}`) : e;
      });
      process.stdout.write(typeof report === 'string' ? report : seedSummary(report, settings.port));
    });

  registerSyncCommands(program, databaseUrl, (message) => new CliFailure(message));

  return program;
}

/** A run of the same kind in progress (issue #18: one at a time) is the command's verdict, printed as it is. */
function refusedRun(command: string): (e: unknown) => never {
  return (e) => {
    throw e instanceof IntegrityRunError ? new CliFailure(`${command}: ${e.message}`) : e;
  };
}

/** A backup file problem (`BackupFileError`) is the command's verdict, printed as it is. */
function asFailure(fileError: abstract new (...args: never[]) => Error): (e: unknown) => never {
  return (e) => {
    throw e instanceof fileError ? new CliFailure(e.message) : e;
  };
}

/** The version in package.json (`chartwarden --version`). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The policy file the server started with the same environment loads. */
function policyPath(settings: ServerSettings): string {
  return typeof settings.options.policy === 'string' ? settings.options.policy : defaultPolicyPath();
}

/**
 * A command's verdict that something is wrong (a broken chain, a failed drill): printed and
 * the process exits 1. Thrown rather than setting `process.exitCode`, which a dependency's
 * exit hook (embedded-postgres) may override.
 */
export class CliFailure extends Error {}

/** The policy the server started with the same environment uses: CHARTWARDEN_POLICY, else the shipped default. */
function loadServerPolicy(settings: ServerSettings): LoadedPolicy {
  return new LoadedPolicy(loadPolicy(policyPath(settings), loadR4Definitions()));
}

/**
 * DATABASE_URL, else the embedded cluster of a server running on the data dir; checked with
 * one connection, so an unreachable database is one line naming where it was looked for.
 */
async function databaseUrl(): Promise<string> {
  const settings = settingsFromEnv();
  if (settings.databaseUrl) {
    await probeDatabase(settings.databaseUrl, 'DATABASE_URL');
    return settings.databaseUrl;
  }
  const noServer = `no database: set DATABASE_URL, or start the server (npm start) so its embedded PostgreSQL in ${settings.dataDir} is running`;
  const server = await DataDirLock.runningServer(settings.dataDir);
  const url = server?.mode === 'embedded' ? await EmbeddedPostgresLauncher.runningUrl(settings.dataDir) : undefined;
  if (!url) throw new CliFailure(noServer);
  await probeDatabase(url, `the embedded PostgreSQL of the server pid ${server?.pid} on ${settings.dataDir}`);
  return url;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (logs, CI). */
function progressBar(label: string, unit = 'rows'): Progress {
  if (!process.stderr.isTTY) return NO_PROGRESS;
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}`, stream: process.stderr }, Presets.shades_classic);
  return { start: (total) => bar.start(total, 0), advance: (n) => bar.increment(n), stop: () => bar.stop() };
}


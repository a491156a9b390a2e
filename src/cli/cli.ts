import { Command, InvalidArgumentError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { settingsFromEnv, type ServerSettings } from '../config/env.config.js';
import { verifyAuditChains } from '../audit/audit-verifier.js';
import { takeCheckpointOf, verifyCheckpoint, writeCheckpoint } from '../audit/checkpoint.js';
import { verifyLedger } from '../governance/ledger-verifier.js';
import { verifySeal } from '../disputes/seal-verifier.js';
import { retentionReport } from '../governance/retention-report.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../policy/policy.loader.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { backup, restoreDrill, type Progress } from '../database/backup.js';
import { EmbeddedPostgresLauncher } from '../database/embedded-postgres.launcher.js';
import { LICENCE_STATUSES, type LicenceStatus } from '../identity/actor.js';
import { DevTokenError, issueDevToken } from '../identity/dev-token.issuer.js';

/**
 * `npx chartwarden <command>`: the admin CLI. Reads the same environment as the server
 * (CHARTWARDEN_DATA_DIR above all), so a token it signs is one that server accepts.
 */
export function buildCli(): Command {
  const program = new Command('chartwarden').description('ChartWarden administration').showHelpAfterError();

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
      const against = o.checkpoint ? await verifyCheckpoint(url, o.checkpoint, settingsFromEnv().dataDir) : undefined;
      const signature = against?.problems.find((p) => p.problem === 'signature');
      if (signature) throw new CliFailure(`audit verify: checkpoint ${o.checkpoint} REJECTED — ${signature.detail}`);
      const report = await verifyAuditChains(url, { since: o.since });
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
      const report = await verifyLedger(await databaseUrl(), { document: o.document });
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
    .option('--as-of <date>', 'the day to judge on (YYYY-MM-DD; default today)', (v) => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v))) throw new InvalidArgumentError('use YYYY-MM-DD');
      return v;
    })
    .action(async (o: { asOf?: string }) => {
      const policy = loadServerPolicy(settingsFromEnv());
      const asOf = o.asOf ? new Date(`${o.asOf}T23:59:59.999+08:00`) : new Date();
      const report = await retentionReport(await databaseUrl(), policy.recordRetention, asOf);
      process.stdout.write(
        `retention report as of ${report.asOf}: ${report.reached.length} of ${report.patients} patients have reached their retention ` +
          `(${report.outpatientYears} years after the last outpatient visit, ${report.inpatientYears} after the last discharge); nothing was deleted (${report.ms} ms)\n`,
      );
      for (const r of report.reached) {
        process.stdout.write(`  ${r.patient}  kept until ${r.keptUntil.slice(0, 10)}  (last visit ${r.lastOutpatientVisit?.slice(0, 10) ?? '—'}, last discharge ${r.lastDischarge?.slice(0, 10) ?? '—'})\n`);
      }
    });

  program
    .command('backup')
    .description('Write a consistent backup of ChartWarden\'s database and <file>.manifest.json (R-50)')
    .requiredOption('--out <file>', 'archive to write')
    .action(async (o: { out: string }) => {
      const manifest = await backup(await databaseUrl(), o.out, progressBar('backup'));
      const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
      process.stdout.write(`backup: ${o.out} (${manifest.archive.bytes} bytes, ${rows} rows in ${manifest.tables.length} tables, sha256 ${manifest.archive.sha256})\n`);
      process.stdout.write(`manifest: ${o.out}.manifest.json\n`);
    });

  program
    .command('restore-drill')
    .description('Restore a backup into a scratch database, verify it against its manifest, and drop it (R-50)')
    .requiredOption('--from <file>', 'archive written by `chartwarden backup`')
    .action(async (o: { from: string }) => {
      const report = await restoreDrill(await databaseUrl(), o.from, progressBar('restore'));
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

  return program;
}

/**
 * A command's verdict that something is wrong (a broken chain, a failed drill): printed and
 * the process exits 1. Thrown rather than setting `process.exitCode`, which a dependency's
 * exit hook (embedded-postgres) may override.
 */
export class CliFailure extends Error {}

/** The policy the server started with the same environment uses: CHARTWARDEN_POLICY, else the shipped default. */
function loadServerPolicy(settings: ServerSettings): LoadedPolicy {
  const path = typeof settings.options.policy === 'string' ? settings.options.policy : defaultPolicyPath();
  return new LoadedPolicy(loadPolicy(path, loadR4Definitions()));
}

/** DATABASE_URL, else the embedded cluster of a server running on the data dir. */
async function databaseUrl(): Promise<string> {
  const settings = settingsFromEnv();
  const url = settings.databaseUrl ?? (await EmbeddedPostgresLauncher.runningUrl(settings.dataDir));
  if (!url) throw new Error(`no database: set DATABASE_URL, or start the server (npm start) so its embedded PostgreSQL in ${settings.dataDir} is running`);
  return url;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (logs, CI). */
function progressBar(label: string): Progress {
  if (!process.stderr.isTTY) return { start: () => undefined, advance: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} rows`, stream: process.stderr }, Presets.shades_classic);
  return { start: (total) => bar.start(total, 0), advance: (n) => bar.increment(n), stop: () => bar.stop() };
}


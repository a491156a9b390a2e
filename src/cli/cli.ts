import { Command, InvalidArgumentError } from 'commander';
import { settingsFromEnv } from '../config/env.config.js';
import { LICENCE_STATUSES, type LicenceStatus } from '../identity/actor.js';
import { issueDevToken } from '../identity/dev-token.issuer.js';

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
      const { dataDir } = settingsFromEnv();
      const token = await issueDevToken(dataDir, {
        sub: o.sub,
        roles: o.role,
        department: o.dept,
        specialty: o.specialty,
        licence: o.licence,
        scope: o.scope,
        fhirUser: o.fhirUser,
        ttl: o.ttl,
      });
      process.stdout.write(token + '\n');
    });

  return program;
}


import { Writable } from 'node:stream';
import { ConfigurationError, settingsFromEnv } from '../config/env.config.js';
import { createLogger, PinoNestLogger } from './logger.js';
import { interactionLabel, policyRuleIds, ruleLabel } from './metric-labels.js';
import { MetricsSettings } from './metrics.settings.js';
import { maskedDatabaseUrl } from './startup-report.js';

/** A logger writing JSON lines into an array. */
function capture(level: 'info' | 'debug' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level, format: 'json' }, sink) };
}

describe('metric labels (issue #14: bounded, never an id)', () => {
  it('an audit subtype is its own label only when ChartWarden produces it; path-made subtypes become "other"', () => {
    expect(interactionLabel('read', '/fhir/Patient/1')).toBe('read');
    expect(interactionLabel('grant-approve', '/access/grants/x/approve')).toBe('grant-approve');
    expect(interactionLabel('grant-7f3e2a', '/access/grants/x/7f3e2a')).toBe('other');
    expect(interactionLabel('anything-else', '/fhir/Patient/1/$anything-else')).toBe('other');
  });

  it('unaudited requests are named by what they are', () => {
    expect(interactionLabel(undefined, '/fhir/metadata')).toBe('capabilities');
    expect(interactionLabel(undefined, '/health/ready')).toBe('health');
    expect(interactionLabel(undefined, '/metrics')).toBe('metrics');
    expect(interactionLabel(undefined, '/docs')).toBe('unaudited');
  });

  it('R-44: a rule is a policy rule id, a rule named in code, the regulation id of a withholding, none, or other', () => {
    const ids = policyRuleIds({ roles: { attending: { rules: [{ id: 'attending.care-team' }] }, nurse: { rules: [{ id: 'nurse.ward-7' }] } } });
    expect(ruleLabel('attending.care-team', ids)).toBe('attending.care-team');
    expect(ruleLabel('nurse.ward-7', ids)).toBe('nurse.ward-7');
    expect(ruleLabel('copyRequests.separationOfDuties', ids)).toBe('copyRequests.separationOfDuties');
    expect(ruleLabel('dispute 3f0c8a2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f (R-44)', ids)).toBe('R-44');
    expect(ruleLabel(undefined, ids)).toBe('none');
    expect(ruleLabel('dispute 3f0c8a2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f', ids)).toBe('other');
    expect(ruleLabel('patient.12345', ids)).toBe('other');
  });
});

describe('MetricsSettings', () => {
  it('off by default; on without a token admits anyone', () => {
    expect(new MetricsSettings().enabled).toBe(false);
    const open = new MetricsSettings({ enabled: true });
    expect(open.protected).toBe(false);
    expect(open.admits(undefined)).toBe(true);
  });

  it('with a token admits exactly "Bearer <token>"', () => {
    const s = new MetricsSettings({ enabled: true, token: 'a-long-scrape-token-123' });
    expect(s.admits('Bearer a-long-scrape-token-123')).toBe(true);
    expect(s.admits('bearer a-long-scrape-token-123')).toBe(true);
    const near = ['Bearer a-long-scrape-token-12', 'Bearer a-long-scrape-token-1234', 'Basic a-long-scrape-token-123', 'a-long-scrape-token-123'];
    const refused = [undefined, '', 'Bearer', ...near];
    for (const h of refused) {
      expect(s.admits(h)).toBe(false);
    }
  });
});

describe('logging', () => {
  it('the database URL of the start-up line masks the password and drops the query', () => {
    expect(maskedDatabaseUrl('postgres://cw:s3cret@db.hospital:5432/emr?sslmode=require')).toBe('postgres://cw:***@db.hospital:5432/emr');
    expect(maskedDatabaseUrl('postgres://cw@db/emr')).toBe('postgres://cw@db/emr');
    expect(maskedDatabaseUrl('not a url :(')).not.toContain(':(');
  });

  it("Nest's route and module lines are dropped at info; its warnings and errors, and ChartWarden's lines, are kept", () => {
    const { lines, logger } = capture();
    const nest = new PinoNestLogger(logger);
    nest.log('Mapped {/fhir, GET} route', 'RouterExplorer');
    nest.log('ChartWardenModule dependencies initialized', 'InstanceLoader');
    nest.warn('something odd', 'RoutesResolver');
    nest.error('failed', 'Error: failed\n    at x', 'AuditLog');
    nest.log('Applied migrations: X', 'Database');
    expect(lines.map((l) => [l.level, l.context, l.msg])).toEqual([
      ['warn', 'RoutesResolver', 'something odd'],
      ['error', 'AuditLog', 'failed'],
      ['info', 'Database', 'Applied migrations: X'],
    ]);
    expect(lines[1].stack).toContain('at x');
    expect(lines[2].time).toMatch(/Z$/);
  });

  it('an authorization or token field is redacted wherever it is logged', () => {
    const { lines, logger } = capture();
    logger.info({ headers: { authorization: 'Bearer eyJ.secret' }, token: 'eyJ.secret', nested: { authorization: 'x' } }, 'careless');
    expect(JSON.stringify(lines)).not.toContain('secret');
  });
});

describe('configuration (LOG_LEVEL, LOG_FORMAT, CHARTWARDEN_METRICS, CHARTWARDEN_METRICS_TOKEN)', () => {
  const token = 'a-scrape-token-of-32-characters!';

  it('defaults: info, the format chosen by the terminal, metrics off', () => {
    const o = settingsFromEnv({}).options;
    expect(o.logging).toEqual({ level: 'info', format: undefined });
    expect(o.metrics).toEqual({ enabled: false, token: undefined });
  });

  it('a token alone turns metrics on behind it; on alone makes them public', () => {
    expect(settingsFromEnv({ CHARTWARDEN_METRICS_TOKEN: token }).options.metrics).toEqual({ enabled: true, token });
    expect(settingsFromEnv({ CHARTWARDEN_METRICS: 'on', CHARTWARDEN_METRICS_TOKEN: token }).options.metrics).toEqual({ enabled: true, token });
    expect(settingsFromEnv({ CHARTWARDEN_METRICS: 'on' }).options.metrics).toEqual({ enabled: true, token: undefined });
    expect(settingsFromEnv({ LOG_LEVEL: 'debug', LOG_FORMAT: 'json' }).options.logging).toEqual({ level: 'debug', format: 'json' });
  });

  it('refuses a contradiction, a short token and unknown values, naming the variable', () => {
    const contradiction = () => settingsFromEnv({ CHARTWARDEN_METRICS: 'off', CHARTWARDEN_METRICS_TOKEN: token });
    expect(contradiction).toThrow(/CHARTWARDEN_METRICS=off contradicts CHARTWARDEN_METRICS_TOKEN/);
    expect(() => settingsFromEnv({ CHARTWARDEN_METRICS_TOKEN: 'short' })).toThrow(/CHARTWARDEN_METRICS_TOKEN: at least 16 characters/);
    expect(() => settingsFromEnv({ CHARTWARDEN_METRICS: 'yes' })).toThrow(ConfigurationError);
    expect(() => settingsFromEnv({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => settingsFromEnv({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });
});

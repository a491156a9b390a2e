import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommanderError, type Command } from 'commander';
import { decodeJwt } from 'jose';
import { buildCli, CliFailure } from '../../src/cli/cli.js';
import { defaultPolicyPath } from '../../src/policy/policy.loader.js';
import { DEV_KEY_FILE } from '../../src/identity/dev-signing-key.js';
import { IdentityError, IdentityErrorCode } from '../../src/identity/identity.errors.js';
import { TokenVerifier } from '../../src/identity/token.verifier.js';
import { packageRoot } from '../../src/common/package-root.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { runCliOn, urlOf, withClient } from '../support/database-admin.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/** What one CLI run printed, and how it ended. */
interface CliRun {
  stdout: string;
  /** Commander's own output (errors, help), captured through configureOutput. */
  stderr: string;
  error?: unknown;
}

/**
 * Runs `chartwarden <args>` in-process with `CHARTWARDEN_DATA_DIR=dataDir`: commander is told
 * not to exit and to write into buffers, and process.stdout.write is captured for the run.
 */
async function runCli(dataDir: string, args: string[]): Promise<CliRun> {
  const program = buildCli();
  let stderr = '';
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: (s) => (stderr += s), writeErr: (s) => (stderr += s) });
    command.commands.forEach(quiet);
  };
  quiet(program);

  const previousDataDir = process.env.CHARTWARDEN_DATA_DIR;
  const realWrite = process.stdout.write;
  let stdout = '';
  process.env.CHARTWARDEN_DATA_DIR = dataDir;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error };
  } finally {
    process.stdout.write = realWrite;
    if (previousDataDir === undefined) delete process.env.CHARTWARDEN_DATA_DIR;
    else process.env.CHARTWARDEN_DATA_DIR = previousDataDir;
  }
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** One JWT and a newline: what `token` prints on stdout, and nothing else. */
const JWT_LINE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

describe('CLI: chartwarden token', () => {
  const tempDirs: string[] = [];
  const newDataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-cli-'));
    tempDirs.push(dir);
    return dir;
  };
  const tokenArgs = (overrides: Record<string, string> = {}): string[] => {
    const options: Record<string, string> = {
      '--sub': 'dr-wang',
      '--role': 'attending,chief',
      '--dept': 'cardio',
      '--specialty': 'cardiology',
      '--licence': 'licensed',
      '--scope': 'user/*.rs',
      '--ttl': '2h',
      ...overrides,
    };
    return ['token', ...Object.entries(options).flat()];
  };

  afterAll(async () => {
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  it('R-01: prints exactly one line, a JWT that the server on the same data dir verifies as that operator', async () => {
    const dataDir = await newDataDir();
    const previousDataDir = process.env.CHARTWARDEN_DATA_DIR;
    const before = Math.floor(Date.now() / 1000);

    const run = await runCli(dataDir, tokenArgs());

    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    expect(process.env.CHARTWARDEN_DATA_DIR).toBe(previousDataDir);
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const token = lines[0];
    expect(token).toMatch(JWT);

    // The key was created in the data dir given through the environment, private to its owner.
    expect((await stat(join(dataDir, DEV_KEY_FILE))).mode & 0o777).toBe(0o600);

    const verifier = await TokenVerifier.create({}, dataDir);
    await expect(verifier.verifyAuthorization(`Bearer ${token}`)).resolves.toEqual({
      id: 'dr-wang',
      practitioner: 'Practitioner/dr-wang',
      roles: ['attending', 'chief'],
      department: 'cardio',
      specialty: 'cardiology',
      licence: 'licensed',
      scopes: ['user/*.rs'],
    });
    const { exp, iat } = decodeJwt(token);
    expect(exp).toBeDefined();
    expect((exp as number) - (iat as number)).toBe(2 * 3600);
    expect(exp).toBeGreaterThanOrEqual(before + 2 * 3600);
    expect(exp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 2 * 3600);
  });

  it('R-01: a token signed with another data dir\'s key is refused', async () => {
    const run = await runCli(await newDataDir(), tokenArgs());
    expect(run.error).toBeUndefined();
    const token = run.stdout.trim();
    expect(token).toMatch(JWT);

    const otherServer = await TokenVerifier.create({}, await newDataDir());
    const verified = otherServer.verifyAuthorization(`Bearer ${token}`);
    await expect(verified).rejects.toBeInstanceOf(IdentityError);
    await expect(verified).rejects.toMatchObject({ code: IdentityErrorCode.InvalidToken });
  });

  it.each([
    ['--licence', 'boss', /option '--licence <status>' argument 'boss' is invalid\. must be one of licensed, intern, probation, visiting/],
    ['--ttl', 'forever', /option '--ttl <span>' argument 'forever' is invalid\. use a number and s, m, h or d/],
  ])('%s %s fails with a clear message and prints no token (nor creates a key)', async (option, value, message) => {
    const dataDir = await newDataDir();

    const run = await runCli(dataDir, tokenArgs({ [option]: value }));

    expect(run.error).toBeInstanceOf(CommanderError);
    expect(run.error).toMatchObject({ code: 'commander.invalidArgument', exitCode: 1 });
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
    expect(existsSync(join(dataDir, DEV_KEY_FILE))).toBe(false);
  });
});

describe('CLI: chartwarden token refuses roles the policy does not define (R-02, R-01)', () => {
  const tempDirs: string[] = [];
  const newDataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-cli-roles-'));
    tempDirs.push(dir);
    return dir;
  };
  // The shipped policy's roles (policy/default.policy.yaml), in its order.
  const DEFAULT_ROLES = 'attending, resident, chief, intern, nurse, record-room, medical-affairs, disputes-officer, auditor, admin, his-system';

  afterAll(async () => {
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  it.each([['attendng'], ['__proto__'], ['constructor'], ['attending,toString']])(
    'R-02: --role %s is refused, listing the policy\'s roles, and no token (nor key) is made',
    async (roles) => {
      const dataDir = await newDataDir();
      const run = await runCli(dataDir, ['token', '--sub', 'dr-wang', '--role', roles]);
      const unknown = roles.split(',').filter((r) => r !== 'attending');
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toBe(`token: unknown role ${unknown.join(', ')}: the policy defines ${DEFAULT_ROLES}`);
      expect(run.stdout).toBe('');
      expect(existsSync(join(dataDir, DEV_KEY_FILE))).toBe(false);
    },
  );

  it('R-02: the roles come from CHARTWARDEN_POLICY when set, as the server would load them', async () => {
    const dataDir = await newDataDir();
    const previous = process.env.CHARTWARDEN_POLICY;
    const policy = join(dataDir, 'hospital.policy.yaml');
    const shipped = await readFile(defaultPolicyPath(), 'utf8');
    // A hospital's copy that calls its auditors `internal-audit`.
    await writeFile(policy, shipped.replace(/^ {2}auditor:$/m, '  internal-audit:'));
    process.env.CHARTWARDEN_POLICY = policy;
    try {
      const refused = await runCli(dataDir, ['token', '--sub', 'qa-1', '--role', 'auditor']);
      expect(refused.error).toBeInstanceOf(CliFailure);
      expect((refused.error as Error).message).toBe(`token: unknown role auditor: the policy defines ${DEFAULT_ROLES.replace('auditor', 'internal-audit')}`);
      const issued = await runCli(dataDir, ['token', '--sub', 'qa-1', '--role', 'internal-audit']);
      expect(issued.error).toBeUndefined();
      expect(decodeJwt(issued.stdout.trim()).roles).toEqual(['internal-audit']);
    } finally {
      if (previous === undefined) delete process.env.CHARTWARDEN_POLICY;
      else process.env.CHARTWARDEN_POLICY = previous;
    }
  });

  it('R-01: the default token expires within the 12-hour maximum lifetime (1 h), and a longer --ttl is refused', async () => {
    const dataDir = await newDataDir();
    const issued = await runCli(dataDir, ['token', '--sub', 'dr-wang', '--role', 'attending']);
    expect(issued.error).toBeUndefined();
    const { exp, iat } = decodeJwt(issued.stdout.trim());
    expect((exp as number) - (iat as number)).toBe(3600);

    const tooLong = await runCli(dataDir, ['token', '--sub', 'dr-wang', '--role', 'attending', '--ttl', '13h']);
    expect(tooLong.error).toBeInstanceOf(CliFailure);
    expect((tooLong.error as Error).message).toMatch(/^token: ttl "13h" is longer than the maximum token lifetime of 720 minutes/);
    expect(tooLong.stdout).toBe('');
  });
});

/**
 * Every CLI error is one clear line and a non-zero exit (issue #14): in-process for the
 * messages, and through the real binary (`bin/chartwarden.js`, built) for the exit code and
 * the absence of a stack. The data dir lock tells `token` and `policy reload` whether a
 * server runs there; a child process holding the lock stands in for the server.
 */
describe('CLI: errors, --version, the running server (issue #14)', () => {
  const ROOT = packageRoot();
  const BIN = join(ROOT, 'bin', 'chartwarden.js');
  const databaseName = `cw_cli_ops_${Date.now()}_${process.pid}`;
  const databaseUrl = urlOf(databaseName);
  const tempDirs: string[] = [];
  const holders: ChildProcess[] = [];
  const newDataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-cli-ops-'));
    tempDirs.push(dir);
    return dir;
  };
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  /** Runs the built binary; resolves with its exit code and output (killed after 30 s, so it always ends). */
  const runBin = (args: string[], env: Record<string, string | undefined>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: undefined, ...env };
      const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  /** A process holding `dataDir`'s lock as a server would; it prints "SIGHUP" and exits when it gets one. */
  const holdLock = async (dataDir: string): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> => {
    const module = pathToFileURL(join(ROOT, 'dist', 'src', 'database', 'data-dir-lock.js')).href;
    const script = `const { DataDirLock } = await import(${JSON.stringify(module)});
      await DataDirLock.acquire(${JSON.stringify(dataDir)}, 'embedded');
      process.on('SIGHUP', () => { console.log('SIGHUP'); process.exit(0); });
      console.log('locked');
      setTimeout(() => process.exit(2), 60000);`;
    const env = { ...process.env, NODE_OPTIONS: undefined };
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env });
    holders.push(child);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (!output.includes('locked') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    if (!output.includes('locked')) throw new Error(`the lock holder did not start: ${output}`);
    return { child, output: () => output, exited };
  };

  beforeAll(async () => {
    await withClient(urlOf(), (c) => c.query(`CREATE DATABASE "${databaseName}"`));
    const db = await ChartWardenDatabase.connect(databaseUrl, 2);
    await db.onApplicationShutdown();
  });

  afterAll(async () => {
    for (const h of holders) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await dropThrowawayDatabase(urlOf(), databaseName);
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  it('--version prints the package version and exits 0', async () => {
    const run = await runBin(['--version'], {});
    expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it.each([
    [['backup', '--out', '/nonexistent-dir/x'], 'backup: cannot write /nonexistent-dir/x: the directory /nonexistent-dir does not exist'],
    [['restore-drill', '--from', '/nonexistent'], 'restore-drill: no backup archive at /nonexistent'],
    [['ledger', 'verify', '--document', 'Composition/nope'], 'ledger verify: unknown document Composition/nope: the edit ledger holds no version of it'],
  ])('R-50/R-12: chartwarden %j is one line on stderr and exit 1, no stack', async (args, message) => {
    const run = await runBin(args, { DATABASE_URL: databaseUrl, CHARTWARDEN_DATA_DIR: await newDataDir() });
    expect(run).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
    expect(existsSync('/nonexistent-dir')).toBe(false);
  });

  it('R-50: restore-drill names the missing manifest of an archive that exists', async () => {
    const dir = await newDataDir();
    const archive = join(dir, 'backup.cwb');
    await writeFile(archive, 'not a backup');
    const run = await runCliOn(databaseUrl, ['restore-drill', '--from', archive], { CHARTWARDEN_DATA_DIR: dir });
    expect(run.error).toBeInstanceOf(CliFailure);
    expect((run.error as Error).message).toBe(
      `restore-drill: ${archive} has no manifest: ${archive}.manifest.json is missing (chartwarden backup writes it beside the archive)`,
    );
    expect(run.stdout).toBe('');
  });

  it('an unreachable DATABASE_URL is named, its password masked, in one line with exit 1', async () => {
    const run = await runBin(['audit', 'verify'], { DATABASE_URL: 'postgres://postgres:s3cret@127.0.0.1:1/nowhere', CHARTWARDEN_DATA_DIR: await newDataDir() });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'chartwarden: cannot connect to the database at DATABASE_URL (postgres://postgres:***@127.0.0.1:1/nowhere): connect ECONNREFUSED 127.0.0.1:1\n',
    );
    expect(run.stderr).not.toContain('s3cret');
  });

  it('R-01: token says loudly that it creates a new key, warns when no server runs on the data dir, and is quiet when one does', async () => {
    const dataDir = await newDataDir();
    const args = ['token', '--sub', 'dr-wang', '--role', 'attending'];
    const fresh = await runCliOn(databaseUrl, args, { CHARTWARDEN_DATA_DIR: dataDir });
    expect(fresh.error).toBeUndefined();
    expect(fresh.stdout).toMatch(JWT_LINE);
    expect(fresh.stderr).toBe(
      `token: WARNING: no signing key in ${dataDir}: creating a NEW one. Only a server started on this data dir accepts the token; ` +
        'run the command where the server runs, or set CHARTWARDEN_DATA_DIR to its data dir.\n',
    );
    expect(existsSync(join(dataDir, DEV_KEY_FILE))).toBe(true);

    const noServer = await runCliOn(databaseUrl, args, { CHARTWARDEN_DATA_DIR: dataDir });
    expect(noServer.stdout).toMatch(JWT_LINE);
    expect(noServer.stderr).toBe(
      `token: warning: no ChartWarden server is running on ${dataDir}; the token is signed with that data dir's key, which only its server accepts.\n`,
    );

    const server = await holdLock(dataDir);
    const withServer = await runCliOn(databaseUrl, args, { CHARTWARDEN_DATA_DIR: dataDir });
    expect(withServer).toEqual({ stdout: expect.stringMatching(JWT_LINE), stderr: '' });
    server.child.kill('SIGKILL');
    await server.exited;
    // The holder died without releasing: its lock is stale, and token warns again.
    const stale = await runCliOn(databaseUrl, args, { CHARTWARDEN_DATA_DIR: dataDir });
    expect(stale.stderr).toMatch(/^token: warning: no ChartWarden server is running on /);
  });

  it('token on a data dir that cannot be created fails at once, in one line, without a key', async () => {
    const started = Date.now();
    const run = await runBin(['token', '--sub', 'dr-wang', '--role', 'attending'], { CHARTWARDEN_DATA_DIR: '/proc/chartwarden-nope' });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'token: the data dir /proc/chartwarden-nope cannot be created or written (a directory cannot be made there). ' +
        'Set CHARTWARDEN_DATA_DIR to a writable path.\n',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('R-01: policy reload refuses an invalid policy, one line per problem, and signals nothing', async () => {
    const dataDir = await newDataDir();
    const server = await holdLock(dataDir);
    const policy = join(dataDir, 'bad.policy.yaml');
    await writeFile(policy, 'roles: 3\n');
    const run = await runCliOn(databaseUrl, ['policy', 'reload'], { CHARTWARDEN_DATA_DIR: dataDir, CHARTWARDEN_POLICY: policy });
    expect(run.error).toBeInstanceOf(CliFailure);
    expect((run.error as Error).message).toBe(`policy reload: ${policy} is invalid (4 problems); nothing was sent`);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.startsWith(`policy reload: ${policy}: `)).toBe(true);
    expect(lines.some((l) => /: roles: /.test(l))).toBe(true);
    expect(run.stdout).toBe('');
    await new Promise((r) => setTimeout(r, 200));
    expect(server.output()).not.toContain('SIGHUP');
    expect(server.child.exitCode).toBeNull();
  });

  it('R-01: policy reload sends SIGHUP to the server holding the data dir, and says when none runs', async () => {
    const dataDir = await newDataDir();
    const none = await runCliOn(databaseUrl, ['policy', 'reload'], { CHARTWARDEN_DATA_DIR: dataDir });
    expect(none.error).toBeInstanceOf(CliFailure);
    expect((none.error as Error).message).toBe(
      `policy reload: no ChartWarden server is running on ${dataDir}; nothing to reload (the policy ${defaultPolicyPath()} is valid)`,
    );

    const server = await holdLock(dataDir);
    const run = await runCliOn(databaseUrl, ['policy', 'reload'], { CHARTWARDEN_DATA_DIR: dataDir });
    expect(run.error).toBeUndefined();
    const sent = `sent SIGHUP to the server pid ${server.child.pid} on ${dataDir}: `;
    expect(run.stdout).toMatch(new RegExp(`^policy reload: .*default\\.policy\\.yaml is valid \\(version [^)]+\\); ${sent}`));
    await expect(server.exited).resolves.toBe(0);
    expect(server.output()).toContain('SIGHUP');
  });
});

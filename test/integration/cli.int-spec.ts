import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { decodeJwt } from 'jose';
import { buildCli, CliFailure } from '../../src/cli/cli.js';
import { defaultPolicyPath } from '../../src/policy/policy.loader.js';
import { DEV_KEY_FILE } from '../../src/identity/dev-signing-key.js';
import { IdentityError, IdentityErrorCode } from '../../src/identity/identity.errors.js';
import { TokenVerifier } from '../../src/identity/token.verifier.js';

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

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The guides show exactly the commands CI runs (issue 19): every fenced block after a
 * `<!-- walkthrough: file#name -->` marker in docs/guides/*.md and the front page must equal the
 * `# >>> name` … `# <<< name` block of docs/walkthroughs/<file>, and every such block must be shown.
 * No server is needed: this checks the repository; `bash docs/walkthroughs/run-all.sh` runs the scripts.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const walkthroughs = join(root, 'docs/walkthroughs');
const sync = (args: string[]) => {
  const res = spawnSync(process.execPath, [join(root, 'scripts/sync-walkthroughs.mjs'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
};
/** A copy of the parts of the repository the sync reads, to break on purpose. */
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cw-walkthroughs-'));
  for (const part of ['docs/guides', 'docs/walkthroughs', 'README.md']) cpSync(join(root, part), join(dir, part), { recursive: true });
  return dir;
};
const scripts = () => readdirSync(walkthroughs).filter((f) => f.endsWith('.sh') && f !== 'lib.sh' && f !== 'run-all.sh');

describe('walkthroughs and guides (docs/walkthroughs, docs/guides)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('every guide block equals its walkthrough block, and every walkthrough block is shown in a guide', () => {
    const res = sync(['--check']);
    expect(res.output).toContain('guides match the walkthroughs');
    expect(res.status).toBe(0);
  });

  it('a guide block edited by hand is found, named, and rewritten from the script', () => {
    const dir = scratch();
    dirs.push(dir);
    const guide = join(dir, 'docs/guides/disputes-office.md');
    const original = readFileSync(guide, 'utf8');
    const edited = original.replace('"basis":"both-sides"', '"basis":"both"');
    expect(edited).not.toBe(original);
    writeFileSync(guide, edited);
    const check = sync(['--check', '--root', dir]);
    expect(check.status).toBe(1);
    expect(check.output).toContain('docs/guides/disputes-office.md: differs from the walkthroughs in disputes-office.sh#unseal');
    expect(readFileSync(guide, 'utf8')).toBe(edited); // --check writes nothing
    expect(sync(['--root', dir]).status).toBe(0);
    expect(readFileSync(guide, 'utf8')).toBe(original);
    expect(sync(['--check', '--root', dir]).status).toBe(0);
  });

  it('a script changed without its guide, a block no guide shows, and a marker naming no block all fail the check', () => {
    const dir = scratch();
    dirs.push(dir);
    const script = join(dir, 'docs/walkthroughs/record-room.sh');
    writeFileSync(script, readFileSync(script, 'utf8').replace('"purpose":"医保报销"', '"purpose":"商业保险理赔"') + '\n# >>> orphan\necho never shown\n# <<< orphan\n');
    const guide = join(dir, 'docs/guides/operations.md');
    writeFileSync(guide, `${readFileSync(guide, 'utf8')}\n<!-- walkthrough: operations.sh#no-such-block -->\n\`\`\`sh\n\`\`\`\n`);
    const check = sync(['--check', '--root', dir]);
    expect(check.status).toBe(1);
    expect(check.output).toContain('docs/guides/record-room.md: differs from the walkthroughs in record-room.sh#receive');
    expect(check.output).toContain('docs/guides/record-room.zh-CN.md: differs from the walkthroughs in record-room.sh#receive');
    expect(check.output).toContain('block record-room.sh#orphan is shown in no guide');
    expect(check.output).toContain('marker operations.sh#no-such-block names no block of docs/walkthroughs/operations.sh');
  });

  it('an unclosed block in a script stops the sync with its name', () => {
    const dir = scratch();
    dirs.push(dir);
    const script = join(dir, 'docs/walkthroughs/tour.sh');
    writeFileSync(script, readFileSync(script, 'utf8').replace('# <<< audit-entry\n', ''));
    const res = sync(['--check', '--root', dir]);
    expect(res.status).not.toBe(0);
    expect(res.output).toContain('tour.sh: block "audit-entry" is never closed');
  });

  it('run-all.sh runs every walkthrough, and each one fails loudly (set -Eeuo pipefail via lib.sh) and starts from a fresh data dir', () => {
    const runAll = readFileSync(join(walkthroughs, 'run-all.sh'), 'utf8');
    const listed = /^SCRIPTS=\(([^)]*)\)/m.exec(runAll)?.[1].trim().split(/\s+/).sort();
    expect(listed).toEqual(scripts().map((f) => f.replace(/\.sh$/, '')).sort());
    const lib = readFileSync(join(walkthroughs, 'lib.sh'), 'utf8');
    expect(lib).toContain('set -Eeuo pipefail');
    expect(lib).toMatch(/mktemp -d/);
    for (const file of scripts()) {
      const text = readFileSync(join(walkthroughs, file), 'utf8');
      expect({ file, sources: text.includes('source "$(dirname "$0")/lib.sh"'), starts: /^cw_start$/m.test(text) }).toEqual({ file, sources: true, starts: true });
    }
  });
});

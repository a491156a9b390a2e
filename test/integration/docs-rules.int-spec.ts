import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * docs/rules.md stays true to the code (issue 19): the rule ids (R-xx) cited in src/ and test/
 * are all explained there, each rule there is proved by a test, what it links to exists (and the
 * functions it names are in those files), the test titles it quotes are real, and nothing in the
 * repository points outside it. No database: these are checks on the repository's files, run by
 * the integration project because they read docs/, test/ and the whole tree rather than one unit
 * of src/ (the unit project only runs src/**\/*.spec.ts beside the code).
 * Each failure lists exactly what is missing.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const docsDir = join(root, 'docs');
const rulesFile = join(docsDir, 'rules.md');
const RULE_ID = /\bR-\d{2}\b/g;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.data', 'coverage']);

/** Every file under `dir` (relative to the root), skipping build output and dependencies. */
function filesUnder(dir: string): string[] {
  const at = join(root, dir);
  if (!existsSync(at)) return [];
  if (statSync(at).isFile()) return [dir];
  return readdirSync(at, { withFileTypes: true }).flatMap((e) =>
    SKIP_DIRS.has(e.name) ? [] : e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const read = (file: string) => readFileSync(join(root, file), 'utf8');
const idsIn = (text: string) => new Set(text.match(RULE_ID) ?? []);
const rules = () => readFileSync(rulesFile, 'utf8');
const sourceAndTests = () => [...filesUnder('src'), ...filesUnder('test')];
const isTestFile = (f: string) => f.startsWith(`test${sep}`) || /\.spec\.ts$/.test(f);

/** Fails listing every problem found, one per line. */
function expectNone(problems: string[], what: string): void {
  if (problems.length > 0) throw new Error(`${what} (${problems.length}):\n  ${problems.join('\n  ')}`);
}

/** Markdown links `[text](target)` of a file, with their line numbers. */
function linksOf(text: string): { text: string; target: string; line: number; lineText: string }[] {
  const out: { text: string; target: string; line: number; lineText: string }[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const m of lineText.matchAll(/\[([^\]]*)\]\(([^)\s]+)\)/g)) out.push({ text: m[1], target: m[2], line: i + 1, lineText });
  });
  return out;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#');

describe('docs/rules.md: every rule id traced to code and tests (issue 19)', () => {
  it('every R-id cited in src/ or test/ has a heading or a table row in docs/rules.md', () => {
    const text = rules();
    const documented = new Set([
      ...[...text.matchAll(/^#{2,6}\s+(R-\d{2})\b/gm)].map((m) => m[1]),
      ...[...text.matchAll(/^\|\s*(?:\*\*)?(R-\d{2})\b/gm)].map((m) => m[1]),
    ]);
    const citedIn = new Map<string, string>();
    for (const file of sourceAndTests()) for (const id of idsIn(read(file))) if (!citedIn.has(id)) citedIn.set(id, file);
    expect(citedIn.size).toBeGreaterThan(20);
    expectNone(
      [...citedIn].filter(([id]) => !documented.has(id)).map(([id, file]) => `${id} (cited in ${file}) has no heading or table row in docs/rules.md`),
      'Rule ids cited in the code but not documented',
    );
  });

  it('every R-id in docs/rules.md is cited by at least one test (test/** or src/**/*.spec.ts)', () => {
    const tested = new Set<string>();
    for (const file of sourceAndTests().filter(isTestFile)) for (const id of idsIn(read(file))) tested.add(id);
    expectNone(
      [...idsIn(rules())].filter((id) => !tested.has(id)).map((id) => `${id} is in docs/rules.md but no test names it`),
      'Rule ids no test cites',
    );
  });

  it('every file docs/rules.md, docs/configuration.md and docs/stack.md link to exists, inside the repository', () => {
    const problems: string[] = [];
    for (const doc of ['rules.md', 'configuration.md', 'stack.md']) {
      const file = join(docsDir, doc);
      if (!existsSync(file)) {
        problems.push(`docs/${doc} does not exist`);
        continue;
      }
      for (const link of linksOf(readFileSync(file, 'utf8'))) {
        if (isExternal(link.target)) continue;
        const target = resolve(dirname(file), decodeURI(link.target.split('#')[0]));
        const inside = !relative(root, target).startsWith('..');
        if (!inside) problems.push(`docs/${doc}:${link.line}: ${link.target} points outside the repository`);
        else if (!existsSync(target)) problems.push(`docs/${doc}:${link.line}: ${link.target} does not exist`);
      }
    }
    expectNone(problems, 'Broken links');
  });

  it('every function, class or constant docs/rules.md names in a link is in the linked file', () => {
    const problems: string[] = [];
    let named = 0;
    for (const link of linksOf(rules())) {
      if (isExternal(link.target)) continue;
      const target = resolve(docsDir, link.target);
      if (!existsSync(target) || !statSync(target).isFile()) continue; // reported by the links check
      // Link text: `path` `Name`, `Class.method` — every name after the path must be in that file.
      const names = [...link.text.matchAll(/`([^`]+)`/g)].map((m) => m[1]).slice(1);
      const source = readFileSync(target, 'utf8');
      for (const name of names) {
        named++;
        for (const part of name.split('.')) {
          if (!new RegExp(`\\b${part.replace(/[$]/g, '\\$')}\\b`).test(source)) {
            problems.push(`docs/rules.md:${link.line}: \`${name}\` is not in ${link.target} (no "${part}")`);
          }
        }
      }
    }
    expect(named).toBeGreaterThan(50);
    expectNone(problems, 'Names not found in the files linked');
  });

  it('every test title docs/rules.md quotes (“…”) is in the test file its line links to', () => {
    const problems: string[] = [];
    let quoted = 0;
    for (const line of rules().split('\n')) {
      const excerpts = [...line.matchAll(/“([^”]+)”/g)].map((m) => m[1]);
      if (excerpts.length === 0) continue;
      const testLinks = linksOf(line)
        .map((l) => l.target)
        .filter((t) => /\.(spec|int-spec|e2e-spec|contract-spec)\.ts$|contract\.ts$/.test(t));
      if (testLinks.length === 0) continue;
      const file = resolve(docsDir, testLinks[0]);
      // Titles are written in quotes in the source: compare with their escapes undone.
      const source = existsSync(file) ? readFileSync(file, 'utf8').replace(/\\(['"`])/g, '$1') : '';
      for (const excerpt of excerpts) {
        if (excerpt.includes('<role>')) continue; // a generated title (the access matrix): its pattern, not its text
        quoted++;
        if (!source.includes(excerpt)) problems.push(`"${excerpt}" is not in ${testLinks[0]}`);
      }
    }
    expect(quoted).toBeGreaterThan(50);
    expectNone(problems, 'Quoted test titles not found');
  });

  it('nothing in the repository points outside it: no mention of the shared rules or stack notes outside the repository', () => {
    // Spelled in pieces so that this file does not match itself.
    const needles = [['..', 'shared', ''].join('/'), ['EMR', 'RULES'].join('-'), ['STACK', 'md'].join('.')];
    const files = ['src', 'test', 'docs', 'scripts', 'policy', 'fhir-profiles', 'migrations', 'bin', 'bench', 'README.md', 'BENCHMARKS.md'].flatMap(filesUnder);
    expect(files.length).toBeGreaterThan(100);
    const problems: string[] = [];
    for (const file of files) {
      read(file)
        .split('\n')
        .forEach((line, i) => {
          for (const needle of needles) if (line.includes(needle)) problems.push(`${file}:${i + 1}: mentions ${needle}: ${line.trim().slice(0, 120)}`);
        });
    }
    expectNone(problems, 'Mentions of files outside the repository (use docs/rules.md and docs/stack.md)');
  });
});

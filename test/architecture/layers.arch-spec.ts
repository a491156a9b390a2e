import { join } from 'node:path';
import { featureOf, importsOf, productionFiles, ROOT, type ImportOf } from './source-tree.js';

/**
 * The layers of src/, checked over every file's imports (static, type-only, re-exports and
 * dynamic `import()`): docs/decisions/0013-layers-and-seams.md, and the module table of
 * ARCHITECTURE.md. Dependencies point one way: features → policy/audit/store ports → database.
 * Type-only imports count: a type from another layer is a dependency on it all the same.
 *
 * Read the table as "files in `from` may not import files in `mayNot`" (or, for a row with
 * `mayOnly`, "may import no folder of src/ but these"). Importing fhir's ports and HTTP
 * plumbing (`WriteGuard`, `FhirExceptionFilter`, `Permission`…) is allowed to every workflow
 * feature, so fhir is forbidden only to the store and identity. A row with `portTypes` also
 * lets the folder name a feature's port types (`import type` from a `*.port.ts`): config does,
 * for the module's options (`store: FhirStore`, `writeGuards: WriteGuard[]`). Files at src/'s
 * top (`chartwarden.module.ts`, `index.ts`, `main.ts`) compose the layers and are not checked.
 */

/** Every folder of src/ the rules know; a new folder must take its place here (and in the decision note). */
const FEATURES = ['identity', 'policy', 'store', 'fhir', 'audit', 'governance', 'copies', 'release', 'disputes', 'access', 'embedding', 'console'] as const;
const SUPPORT = ['common', 'config', 'database', 'observability', 'cluster', 'cli', 'pdf', 'demo'] as const;

type Folder = (typeof FEATURES)[number] | (typeof SUPPORT)[number];

interface LayerRule {
  from: Folder;
  /** Folders of src/ that `from` may not import. */
  mayNot?: Folder[];
  /** The only folders of src/ that `from` may import (besides itself). */
  mayOnly?: Folder[];
  /** Type-only imports of any feature's ports (`*.port.ts`) are allowed all the same. */
  portTypes?: true;
  why: string;
}

/** The workflow features: none imports another, save release and disputes using copies. */
const WORKFLOWS: Folder[] = ['governance', 'release', 'disputes', 'access', 'copies'];
const otherWorkflows = (self: Folder, ...allowed: Folder[]) => WORKFLOWS.filter((w) => w !== self && !allowed.includes(w));

// prettier-ignore
const RULES: LayerRule[] = [
  { from: 'common',     mayNot: [...FEATURES],                               why: 'common holds what every layer shares (the clock, errors, ids); it knows no feature' },
  { from: 'config',     mayNot: [...FEATURES], portTypes: true,              why: 'configuration is data; it names the port types its options take, nothing else of a feature' },
  { from: 'database',   mayNot: [...FEATURES],                               why: 'the database layer gives features a connection and a unit of work; it knows no feature' },
  { from: 'store',      mayNot: ['policy', 'audit', 'fhir', 'governance', 'release', 'disputes', 'access', 'embedding'], why: 'the store holds FHIR data and knows nothing of who may see it or what is recorded about it' },
  { from: 'identity',   mayOnly: ['common', 'config'],                      why: 'identity turns a token into an Actor; it knows no FHIR, no storage, no policy' },
  { from: 'audit',      mayNot: ['policy'],                                  why: 'the audit trail records decisions, it does not make them' },
  { from: 'policy',     mayNot: ['release', 'governance', 'disputes'],       why: 'policy decides from data; workflows ask it, never the other way round' },
  { from: 'fhir',       mayNot: ['governance', 'disputes', 'release', 'access'], why: 'the FHIR facade depends on the write chain\'s and access\'s ports, never on the features behind them' },
  { from: 'embedding',  mayNot: [...WORKFLOWS],                              why: 'the actor-bound client runs the FHIR pipeline (decisions, write chain, ledger, audit); it reaches no feature around it' },
  { from: 'governance', mayNot: otherWorkflows('governance'),                why: 'workflow features meet only through fhir\'s ports (write guards and recorders)' },
  { from: 'access',     mayNot: otherWorkflows('access'),                    why: 'workflow features meet only through fhir\'s ports (write guards and recorders)' },
  { from: 'release',    mayNot: otherWorkflows('release', 'copies'),         why: 'release uses copies to render and meets other workflows only through fhir\'s ports; never disputes' },
  { from: 'disputes',   mayNot: otherWorkflows('disputes', 'copies'),        why: 'disputes uses copies to render and meets other workflows only through fhir\'s ports; never release' },
  { from: 'copies',     mayNot: otherWorkflows('copies'),                    why: 'copies renders a fixed set of versions and knows nothing of who asked for the copy' },
  { from: 'console',    mayOnly: ['common', 'config', 'identity', 'policy', 'fhir', 'demo', 'observability'], why: 'the console is a client of the API (decision 0019): it serves its files, its settings and the dev sign-in, and decides nothing itself' },
];

/** Packages pure domain code may not import: `domain/` folders are the regulation as functions, testable with no framework. */
const NOT_IN_DOMAIN = [/^@nestjs\//, /^typeorm(\/|$)/, /^pg(\/|$)/, /^pg-/];

let imports: { file: string; from: string | undefined; imp: ImportOf }[] | undefined;

/** Production code's imports (read once): unit specs beside the code are tests and may wire layers together. */
const allImports = () =>
  (imports ??= productionFiles().flatMap((file) => importsOf(file).map((imp) => ({ file: file.path, from: featureOf(file.path), imp }))));

const describeImport = (file: string, imp: ImportOf) => `${file}:${imp.line} imports '${imp.specifier}'`;

describe('architecture: layers (decision 0013)', () => {
  it('every folder of src/ is a layer the rules know (a new one must be placed in the table)', () => {
    const known = new Set<string>([...FEATURES, ...SUPPORT]);
    const unknown = [...new Set(productionFiles().map((f) => featureOf(f.path)))].filter((f): f is string => f !== undefined && !known.has(f));
    expect(unknown.map((f) => `src/${f}/ is not in the layer table of test/architecture/layers.arch-spec.ts`)).toEqual([]);
  });

  it('the import reader sees every kind of import (the walk itself works)', () => {
    const imports = allImports();
    expect(imports.filter(({ imp }) => imp.target?.startsWith('src/')).length).toBeGreaterThan(100);
    expect(imports.some(({ imp }) => imp.specifier.startsWith('@nestjs/'))).toBe(true);
  });

  it('the import reader finds every form of import and tells the type-only ones apart', () => {
    const text = [
      "import { Injectable } from '@nestjs/common';",
      "import type { FhirStore } from '../store/fhir-store.port.js';",
      "import { type WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';",
      "import { Clock, type SystemClock } from '../common/clock.js';",
      "export { AuditLog } from '../audit/audit-log.js';",
      "export type { Actor } from '../identity/actor.js';",
      "import '../observability/metrics.js';",
      "// import { commented } from '../release/out.js';",
      "const later = () => import('../disputes/late.js');",
      "type Lazy = import('../policy/lazy.js').Lazy;",
    ].join('\n');
    const found = importsOf({ path: 'src/config/probe.ts', absolute: join(ROOT, 'src/config/probe.ts'), text });
    expect(found.map((i) => [i.target ?? i.specifier, i.typeOnly, i.line])).toEqual([
      ['@nestjs/common', false, 1],
      ['src/store/fhir-store.port.ts', true, 2],
      ['src/fhir/write-chain.port.ts', true, 3],
      ['src/common/clock.ts', false, 4],
      ['src/audit/audit-log.ts', false, 5],
      ['src/identity/actor.ts', true, 6],
      ['src/observability/metrics.ts', false, 7],
      ['src/disputes/late.ts', false, 9],
      ['src/policy/lazy.ts', true, 10],
    ]);
  });

  it.each(RULES.map((rule) => [rule.from, rule] as const))('%s keeps to its layer', (_from, rule) => {
    const offences = allImports()
      .filter(({ from, imp }) => from === rule.from && imp.target?.startsWith('src/'))
      .filter(({ imp }) => {
        const to = featureOf(imp.target as string);
        if (to === undefined || to === rule.from) return false;
        if (rule.portTypes && imp.typeOnly && (imp.target as string).endsWith('.port.ts')) return false;
        return rule.mayOnly ? !rule.mayOnly.includes(to as Folder) : Boolean(rule.mayNot?.includes(to as Folder));
      })
      .map(({ file, imp }) => `${describeImport(file, imp)}: ${rule.from} may not import ${featureOf(imp.target as string)} (${rule.why})`);
    expect(offences).toEqual([]);
  });

  it('domain/ folders import no @nestjs, typeorm or pg: pure functions of the rules', () => {
    const offences = allImports()
      .filter(({ file, imp }) => file.includes('/domain/') && NOT_IN_DOMAIN.some((p) => p.test(imp.specifier)))
      .map(({ file, imp }) => `${describeImport(file, imp)}: domain code imports no framework, ORM or driver`);
    expect(offences).toEqual([]);
  });
});

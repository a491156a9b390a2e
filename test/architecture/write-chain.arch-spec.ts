import ts from 'typescript';
import { parse, productionFiles, type SourceFile } from './source-tree.js';

/**
 * Every write goes through the write chain (docs/decisions/0013-layers-and-seams.md): only
 * src/fhir/write-chain.ts, and the store itself (src/store/**), call `create(…)` / `update(…)` on
 * a `FhirStore`. A feature writing on the store directly would skip the write guards (the legal
 * hold R-41, the archive, the edit window…) and the recorders (the edit ledger R-12, the audit
 * entry committed with the version R-51). Features write through `WriteChain` or `FhirService`.
 *
 * Read from the syntax, pragmatically: a store is a name declared with the type `FhirStore`
 * (a parameter, property or variable), the first parameter of a `transaction(…)` callback, any
 * name `store` or `tx`, or `<store>.within(unit)`; `x.create(` / `this.x.update(` on one of them
 * is a write.
 */

/** Where a store write may be made. */
const MAY_WRITE = [/^src\/fhir\/write-chain\.ts$/, /^src\/store\//];

const WRITES = new Set(['create', 'update']);
const STORE_NAMES = /^(store|tx)$/;

/** The names the file uses for a FhirStore. */
function storeNamesIn(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if ((ts.isParameter(node) || ts.isPropertyDeclaration(node) || ts.isVariableDeclaration(node)) && ts.isIdentifier(node.name)) {
      if (node.type && /\bFhirStore\b/.test(node.type.getText(source))) names.add(node.name.text);
    }
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'transaction') {
      const work = node.arguments[0];
      const first = work && (ts.isArrowFunction(work) || ts.isFunctionExpression(work)) ? work.parameters[0] : undefined;
      if (first && ts.isIdentifier(first.name)) names.add(first.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** Whether `receiver` is a store: one of `names`, `this.<name>`, or `<…>.within(…)`. */
function isStore(receiver: ts.Expression, names: Set<string>): boolean {
  let e = receiver;
  while (ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e) || ts.isAsExpression(e)) e = e.expression;
  if (ts.isIdentifier(e)) return names.has(e.text) || STORE_NAMES.test(e.text);
  if (ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword) return names.has(e.name.text) || STORE_NAMES.test(e.name.text);
  return ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'within';
}

/** Every `create(…)` / `update(…)` the file calls on a store: `path:line calls tx.update(…)`. */
function storeWritesIn(file: SourceFile): string[] {
  const source = parse(file);
  const names = storeNamesIn(source);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && WRITES.has(node.expression.name.text)) {
      if (isStore(node.expression.expression, names)) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        found.push(`${file.path}:${line} calls ${node.expression.getText(source)}(…) on a FhirStore (write through WriteChain or FhirService)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** A made-up file, as a feature might write it. */
const probe = (path: string, text: string): SourceFile => ({ path, absolute: '', text });

describe('architecture: every write goes through the write chain (decision 0013)', () => {
  it('the reader finds a direct store write in each form, and leaves writes through the chain alone (the walk itself works)', () => {
    const text = [
      "import { FhirStore } from '../store/fhir-store.port.js';",
      'export class SigningService {',
      '  constructor(private readonly chain: WriteChain, private readonly fhir: FhirService, private readonly records: FhirStore) {}',
      '  async sign(ctx: FhirContext, doc: Resource) {',
      '    await this.records.transaction(async (scoped, unit) => {',
      '      await this.chain.update(ctx, scoped, unit, doc, {}, "sign");',
      '      await scoped.update(doc, {});',
      '    });',
      '    await this.records.create(doc, {});',
      '    await this.records.within(unit).update(doc, {});',
      '    await this.fhir.create(ctx, "Provenance", doc, {});',
      '  }',
      '  direct(tx: FhirStore, doc: Resource) {',
      '    return tx.update(doc, {});',
      '  }',
      '}',
    ].join('\n');
    const found = storeWritesIn(probe('src/governance/probe-signing.service.ts', text));
    expect(found.map((f) => f.replace(/ on a FhirStore.*/, ''))).toEqual([
      'src/governance/probe-signing.service.ts:7 calls scoped.update(…)',
      'src/governance/probe-signing.service.ts:9 calls this.records.create(…)',
      'src/governance/probe-signing.service.ts:10 calls this.records.within(unit).update(…)',
      'src/governance/probe-signing.service.ts:14 calls tx.update(…)',
    ]);
  });

  it('the chain itself is seen writing on the store (the reader sees real code)', () => {
    const chain = productionFiles().find((f) => f.path === 'src/fhir/write-chain.ts');
    expect(chain && storeWritesIn(chain).length).toBeGreaterThan(0);
  });

  it('only src/fhir/write-chain.ts and src/store/** call create(…) / update(…) on a FhirStore', () => {
    const offences = productionFiles()
      .filter((f) => !MAY_WRITE.some((allowed) => allowed.test(f.path)))
      .flatMap(storeWritesIn);
    expect(offences).toEqual([]);
  });
});

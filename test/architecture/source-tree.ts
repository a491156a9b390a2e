import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The source tree as the architecture tests read it: plain files and their text, no Nest, no
 * database. Paths are relative to the repository root with forward slashes (`src/fhir/fhir.service.ts`),
 * so a failure names the file as a reviewer would look for it.
 */

/** The repository root (this file sits in test/architecture/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One TypeScript file under src/. */
export interface SourceFile {
  /** `src/<feature>/…/<name>.ts`, forward slashes. */
  path: string;
  absolute: string;
  text: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return walk(full);
    return entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

let cached: SourceFile[] | undefined;

/** Every `.ts` file under src/ (unit specs beside the code included), sorted by path. */
export function sourceFiles(): SourceFile[] {
  cached ??= walk(join(ROOT, 'src'))
    .map((absolute) => ({ absolute, path: relative(ROOT, absolute).split(sep).join('/'), text: readFileSync(absolute, 'utf8') }))
    .sort((a, b) => a.path.localeCompare(b.path));
  return cached;
}

/** Production code only: the unit specs beside it (`*.spec.ts`) are tests. */
export function productionFiles(): SourceFile[] {
  return sourceFiles().filter((f) => !f.path.endsWith('.spec.ts'));
}

/** Lines as `wc -l` counts them. */
export function lineCount(text: string): number {
  if (!text) return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}

/** The folder under src/ a file belongs to (`fhir` for src/fhir/x.ts), or undefined for a file at src/'s top. */
export function featureOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** One piece of a file's code a check looks at, with the line it starts on. */
export interface CodeSpan {
  line: number;
  text: string;
}

const parsed = new Map<string, ts.SourceFile>();

/** The file's syntax tree, parsed once per test file. */
export function parse(file: SourceFile): ts.SourceFile {
  let source = parsed.get(file.path);
  if (!source) {
    source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    parsed.set(file.path, source);
  }
  return source;
}

function lineOf(source: ts.SourceFile, node: ts.Node): number {
  return source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
}

/**
 * The text of every string and template literal (a template's parts joined by `${}`) and every
 * identifier in the file: its code, not its comments (a doc comment may well name `sqlOf` or a
 * store table to say it is not used).
 */
export function literalsAndNames(file: SourceFile): { strings: CodeSpan[]; names: CodeSpan[] } {
  const source = parse(file);
  const strings: CodeSpan[] = [];
  const names: CodeSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) strings.push({ line: lineOf(source, node), text: node.text });
    else if (ts.isTemplateExpression(node)) {
      strings.push({ line: lineOf(source, node), text: [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join('${}') });
    } else if (ts.isIdentifier(node)) names.push({ line: lineOf(source, node), text: node.text });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { strings, names };
}

/** Every call of a function named `name` (`name(…)`, `x.name(…)`), by line. */
export function callsOf(file: SourceFile, name: string): number[] {
  const source = parse(file);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const called = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      if (called === name) lines.push(lineOf(source, node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

/** A module specifier the file imports or re-exports (static, type-only or dynamic), with where it points. */
export interface ImportOf {
  specifier: string;
  /** The src/-relative target of a relative import (`src/policy/access-policy.service.ts`), or undefined for a package. */
  target?: string;
  /** Only types cross (`import type`, or every named binding marked `type`): erased from the emitted code. */
  typeOnly: boolean;
  line: number;
}

function typeOnlyImport(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const named = node.exportClause;
    return Boolean(named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
  }
  const clause = node.importClause;
  if (!clause) return false; // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && Boolean(named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
}

/** Every import of the file: `import … from`, `import type`, `export … from`, `import('…')`, `import '…'`. */
export function importsOf(file: SourceFile): ImportOf[] {
  const source = parse(file);
  const found: { specifier: string; typeOnly: boolean; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: typeOnlyImport(node), line: lineOf(source, node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false, line: lineOf(source, node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true, line: lineOf(source, node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.map((imp) => {
    if (!imp.specifier.startsWith('.')) return imp;
    const target = relative(ROOT, resolve(dirname(file.absolute), imp.specifier)).split(sep).join('/').replace(/\.js$/, '.ts');
    return { ...imp, target };
  });
}

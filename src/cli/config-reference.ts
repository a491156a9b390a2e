import { z } from 'zod';
import { policySchema } from '../policy/domain/policy-document.js';
import { envSchema } from '../config/env.config.js';

/**
 * docs/configuration.md, generated from the two schemas that validate ChartWarden's configuration:
 * the environment (`envSchema`) and the policy file (`policySchema`). Each variable and setting
 * carries its description (and, where the default is applied outside the schema, its default) in
 * the schema itself, so a setting cannot be added without being documented:
 * test/integration/config-reference.int-spec.ts fails on a missing description or a stale file.
 */

/** The command that regenerates docs/configuration.md (named in the file and in the test's failure). */
export const CONFIG_REFERENCE_COMMAND = 'npm run build && node scripts/build-config-reference.mjs';

/** A JSON Schema node as `z.toJSONSchema` produces it (only what this generator reads). */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
}

/** One documented variable or setting. */
export interface Row {
  path: string;
  required: boolean;
  node: SchemaNode;
}

/** Placeholder shown for the keys of a map, by the map's own name. */
const MAP_KEYS: Record<string, string> = {
  groups: '<group>',
  roles: '<role>',
  writingDeadlines: '<document type>',
  evidence: '<requester type>',
};

const jsonSchemaOf = (schema: z.ZodType): SchemaNode =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as unknown as SchemaNode;

const isMap = (n: SchemaNode) => typeof n.additionalProperties === 'object' && !n.properties;

/** Walks the named properties of objects (through lists, maps and unions) in document order. */
function collect(node: SchemaNode, path: string, required: boolean, rows: Row[]): void {
  if (path) rows.push({ path, required, node });
  if (node.properties) {
    const req = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties)) collect(child, path ? `${path}.${key}` : key, req.has(key), rows);
  }
  if (isMap(node)) {
    const name = path.split('.').pop() ?? '';
    descend(node.additionalProperties as SchemaNode, `${path}.${MAP_KEYS[name] ?? '<key>'}`, rows);
  }
  if (node.items) descend(node.items, `${path}[]`, rows);
  for (const option of node.anyOf ?? []) descend(option, path, rows);
}

/** Into a list item, map value or union member: only its named properties are settings of their own. */
function descend(node: SchemaNode, path: string, rows: Row[]): void {
  if (node.properties || isMap(node) || node.items || node.anyOf) {
    const inner: Row[] = [];
    collect(node, path, true, inner);
    rows.push(...inner.filter((r) => r.path !== path));
  }
}

const INT_LIMIT = Number.MAX_SAFE_INTEGER;
const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

/** What a value must look like, in a few words. */
function accepts(n: SchemaNode): string {
  if (n.anyOf) {
    const [one, many] = n.anyOf;
    // "X, or a list of them" rather than spelling a long enumeration twice.
    if (n.anyOf.length === 2 && many.type === 'array' && JSON.stringify(many.items) === JSON.stringify(one)) return `${accepts(one)}, or a list of them`;
    return n.anyOf.map(accepts).join(' or ');
  }
  if (n.const !== undefined) return code(n.const);
  if (n.enum) return n.enum.map(code).join(', ');
  const min = n.minimum !== undefined && n.minimum > -INT_LIMIT ? n.minimum : undefined;
  const max = n.maximum !== undefined && n.maximum < INT_LIMIT ? n.maximum : undefined;
  const bounds = [
    min !== undefined && max !== undefined ? `${min}–${max}` : '',
    min !== undefined && max === undefined ? `≥ ${min}` : '',
    n.exclusiveMinimum !== undefined ? `> ${n.exclusiveMinimum}` : '',
    max !== undefined && min === undefined ? `≤ ${max}` : '',
  ].filter(Boolean);
  switch (n.type) {
    case 'integer':
    case 'number':
      return [n.type, ...bounds].join(' ');
    case 'string':
      return n.format === 'uri' ? 'URL' : 'text';
    case 'boolean':
      return 'boolean';
    case 'array':
      return `list of ${n.items ? accepts(n.items) : 'values'}${n.minItems ? ' (not empty)' : ''}`;
    case 'object':
      if (isMap(n)) return `map to ${accepts(n.additionalProperties as SchemaNode)}`;
      return 'object';
    default:
      return 'any';
  }
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A default as the reader should see it: values as code, prose (with spaces, or already marked up) as is. */
function shownDefault(n: SchemaNode, required = false): string {
  if (n.default === undefined) return required ? '—' : '*(unset)*';
  if (typeof n.default === 'string' && /[\s`]/.test(n.default)) return n.default;
  return code(n.default);
}

/** The environment variables, in schema order. */
export function environmentRows(): Row[] {
  const rows: Row[] = [];
  collect(jsonSchemaOf(envSchema), '', true, rows);
  return rows;
}

/** The policy file's settings by path, in schema order. */
export function policyRows(): Row[] {
  const rows: Row[] = [];
  collect(jsonSchemaOf(policySchema), '', true, rows);
  return rows;
}

/** The paths in `schema` (an object schema) whose schema has no description. */
export function undocumentedPaths(schema: z.ZodType): string[] {
  const rows: Row[] = [];
  collect(jsonSchemaOf(schema), '', true, rows);
  return rows.filter((r) => !r.node.description?.trim()).map((r) => r.path);
}

/** Every environment variable and policy setting whose schema has no description (should be none). */
export function undocumentedSettings(): string[] {
  return [
    ...undocumentedPaths(envSchema).map((p) => `environment variable ${p}`),
    ...undocumentedPaths(policySchema).map((p) => `policy setting ${p}`),
  ];
}

/** The full text of docs/configuration.md. */
export function configurationReference(): string {
  const env = environmentRows().map(
    (r) => `| \`${r.path}\` | ${cell(shownDefault(r.node))} | ${cell(accepts(r.node))} | ${cell(r.node.description ?? '')} |`,
  );
  const policy = policyRows().map((r) => {
    const shown = cell(shownDefault(r.node, r.required));
    return `| \`${r.path}\` | ${r.required ? 'yes' : 'no'} | ${shown} | ${cell(accepts(r.node))} | ${cell(r.node.description ?? '')} |`;
  });
  return [
    '# Configuration reference',
    '',
    `<!-- Generated from src/config/env.config.ts and src/policy/domain/policy-document.ts by \`${CONFIG_REFERENCE_COMMAND}\`. Do not edit by hand. -->`,
    '',
    'Everything ChartWarden can be configured with, generated from the schemas that validate it at start-up:',
    'a value these tables do not allow stops the server with the variable\'s name or the setting\'s path.',
    'The rule ids (R-xx) are explained in [rules.md](rules.md).',
    '',
    '## Environment variables',
    '',
    'Read by the standalone server (`npm start`) and the `chartwarden` CLI. An empty value counts as unset.',
    'Three combinations are refused as well: `CHARTWARDEN_JWKS_URL` without `CHARTWARDEN_ISSUER`; the identity',
    'provider\'s endpoints or grants (`CHARTWARDEN_AUTHORIZATION_ENDPOINT`, `CHARTWARDEN_TOKEN_ENDPOINT`,',
    '`CHARTWARDEN_GRANT_TYPES`) without `CHARTWARDEN_JWKS_URL`; and `CHARTWARDEN_METRICS=off` with',
    '`CHARTWARDEN_METRICS_TOKEN`. An application embedding the Nest module',
    'passes the same settings as `ChartWardenOptions` (src/config/chartwarden.options.ts) instead.',
    '',
    '| variable | default | accepts | meaning |',
    '|---|---|---|---|',
    ...env,
    '',
    '## Policy settings',
    '',
    'The policy file (YAML or JSON) named by `CHARTWARDEN_POLICY`; the shipped one is',
    '[policy/default.policy.yaml](../policy/default.policy.yaml), whose values are the defaults hospitals start from.',
    'Paths: `a.b` is a key inside `a`, `a[]` an item of the list `a`, `<role>` and the like any key of a map.',
    'Unknown keys are refused. "required" is within the enclosing object.',
    '',
    '| path | required | default | accepts | meaning |',
    '|---|---|---|---|---|',
    ...policy,
    '',
  ].join('\n');
}

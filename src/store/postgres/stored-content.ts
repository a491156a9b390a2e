import type { Resource } from '@medplum/fhirtypes';

/** Orders as PostgreSQL's "C" collation does, so JS and SQL pick the same "first" value. */
export function byCodeUnit(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Equal apart from the server-owned meta fields: such an update adds no version. */
export function sameContent(stored: Resource, incoming: Resource): boolean {
  const strip = (r: Resource) => {
    const { meta, ...rest } = r;
    const { versionId: _v, lastUpdated: _l, ...metaRest } = meta ?? {};
    return canonical({ ...rest, meta: Object.keys(metaRest).length ? metaRest : undefined });
  };
  return strip(stored) === strip(incoming);
}

/** JSON with object keys sorted and undefined dropped, so equal resources serialise equally. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** JSONB stores keys in its own order; serve `resourceType`, `id`, `meta` first as FHIR JSON customarily does. */
export function present(content: Resource): Resource {
  const { resourceType, id, meta, ...rest } = content;
  return { resourceType, id, meta, ...rest } as Resource;
}

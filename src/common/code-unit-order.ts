/**
 * Orders strings as PostgreSQL's "C" collation does (by UTF-8 bytes), so JS and SQL pick the
 * same "first" value: a resource's owner, its first encounter, the order a write locks in.
 */
export function byCodeUnit(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

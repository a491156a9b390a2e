/**
 * The text an audit row's hash covers, as SQL over an `audit_entry`-shaped row (columns
 * prefixed by `r.`): the content, then the searchable columns, exactly as `hashedText` in
 * `domain/audit-entry.ts` defines it. The writer (`AuditLog`) and the verifier share it, so
 * they cannot disagree.
 */
export function hashedTextSql(r: string): string {
  const none = `E'\\x1e'`;
  return `convert_to(${r}content || E'\\x1f' || concat_ws(E'\\x1f', ${r}request_id,
      (extract(epoch FROM ${r}recorded) * 1000)::bigint,
      coalesce(${r}actor, ${none}), coalesce(${r}patient, ${none}), ${r}action, ${r}subtype, ${r}outcome::text,
      coalesce(${r}entity_type, ${none}), coalesce(${r}entity_id, ${none})), 'UTF8')`;
}

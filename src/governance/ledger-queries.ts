import type { Queryable } from '../database/chartwarden-database.js';

/** Who first wrote a document, and their licence then (its first ledger entry), if the ledger has it. */
export async function documentCreator(q: Queryable, type: string, id: string): Promise<{ editor: string; licence?: string } | undefined> {
  const [row] = await q.query<{ editor: string; licence: string | null }>(
    `SELECT editor, entry::jsonb ->> 'licence' AS licence FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id LIMIT 1`,
    [type, id],
  );
  return row ? { editor: row.editor, ...(row.licence ? { licence: row.licence } : {}) } : undefined;
}

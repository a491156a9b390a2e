import { createHash } from 'node:crypto';
import pg from 'pg';
import { canonicalize } from 'json-canonicalize';
import { LEDGER_GENESIS, type LedgerEntry } from './domain/ledger.js';
import { NO_PROGRESS, type Progress } from '../common/progress.js';

/** The first thing wrong in one document's ledger chain. */
export interface LedgerBreak {
  document: string;
  version: number;
  problem: 'entry-altered' | 'link-broken' | 'entry-missing' | 'version-altered';
  detail: string;
}

export interface LedgerReport {
  documents: number;
  entries: number;
  /**
   * SHA-256 over every document's last entry (`Type/id version hash`, sorted): one value that
   * changes if any document's history is rewritten, even consistently. Printed by `ledger
   * verify` and kept in backup manifests, so it can be compared with a copy held elsewhere.
   */
  root: string;
  broken?: LedgerBreak;
  /** Every broken document (the first break of each). */
  breaks: LedgerBreak[];
  ms: number;
}

const BATCH = 5000;

/**
 * Recomputes the edit ledger's chains: for each governed document, in version
 * order, each entry must hash to its stored hash over its predecessor's, its columns must say
 * what its entry says, its version must follow the previous one, and the stored version must
 * still hash to the entry's `contentSha256` (a version edited in the database shows here).
 * A version newer than the last entry, with no entry, is reported missing.
 */
export async function verifyLedger(databaseUrl: string, options: { document?: string; progress?: Progress } = {}): Promise<LedgerReport> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'chartwarden-ledger-verify', options: '-c jit=off' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const [type, id] = options.document ? options.document.split('/') : [];
    const breaks: LedgerBreak[] = [];
    let documents = 0;
    let entries = 0;
    let current: { key: string; version: number; hash: Buffer; broken: boolean } | undefined;
    let after: [string, string, number] = ['', '', 0];
    const progress = options.progress ?? NO_PROGRESS;
    const [{ n: total }] = (
      await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM edit_ledger WHERE ($1::text IS NULL OR (resource_type = $1 AND resource_id = $2))',
        [type ?? null, id ?? null],
      )
    ).rows;
    progress.start(total);
    for (;;) {
      const rows = (
        await client.query<{ resource_type: string; resource_id: string; version_id: number; recorded: Date; editor: string; kind: string; reason: string | null; doc_type: string | null; entry: string; prev_hash: Buffer; hash: Buffer; content: unknown }>(
          `SELECT l.resource_type, l.resource_id, l.version_id, l.recorded, l.editor, l.kind, l.reason, l.doc_type, l.entry, l.prev_hash, l.hash, v.content
             FROM edit_ledger l
             LEFT JOIN fhir_resource_version v ON v.resource_type = l.resource_type AND v.id = l.resource_id AND v.version_id = l.version_id
            WHERE (l.resource_type, l.resource_id, l.version_id) > ($1, $2, $3)
              AND ($4::text IS NULL OR (l.resource_type = $4 AND l.resource_id = $5))
            ORDER BY l.resource_type, l.resource_id, l.version_id LIMIT ${BATCH}`,
          [...after, type ?? null, id ?? null],
        )
      ).rows;
      for (const r of rows) {
        const key = `${r.resource_type}/${r.resource_id}`;
        if (current?.key !== key) {
          documents++;
          current = { key, version: r.version_id - 1, hash: LEDGER_GENESIS, broken: false };
          // A chain that does not start at the genesis lost its first entries.
          if (!r.prev_hash.equals(LEDGER_GENESIS)) {
            breaks.push({ document: key, version: 1, problem: 'entry-missing', detail: `${key}: the entries before version ${r.version_id} are missing (its entry links to an earlier one)` });
            current.broken = true;
          }
        }
        entries++;
        if (current.broken) continue;
        const fail = (version: number, problem: LedgerBreak['problem'], detail: string) => {
          breaks.push({ document: key, version, problem, detail: `${key}: ${detail}` });
          (current as { broken: boolean }).broken = true;
        };
        const entry = JSON.parse(r.entry) as LedgerEntry;
        const hash = createHash('sha256').update(r.prev_hash).update(r.entry, 'utf8').digest();
        if (r.version_id !== current.version + 1) fail(current.version + 1, 'entry-missing', `version ${current.version + 1} has no ledger entry (the next entry is for version ${r.version_id})`);
        else if (!r.prev_hash.equals(current.hash)) fail(r.version_id, 'link-broken', `the entry of version ${r.version_id} does not point to the hash of version ${current.version}'s entry`);
        else if (!hash.equals(r.hash)) fail(r.version_id, 'entry-altered', `the entry of version ${r.version_id} does not match its hash`);
        else if (!sameColumns(entry, r)) fail(r.version_id, 'entry-altered', `the columns of version ${r.version_id}'s entry no longer say what its hashed entry says`);
        else if (r.content === null || sha256(canonicalize(r.content)) !== entry.contentSha256) {
          fail(r.version_id, 'version-altered', `stored version ${r.version_id} ${r.content === null ? 'is missing' : 'is not the version the ledger recorded (its SHA-256 differs)'}`);
        }
        current.version = r.version_id;
        current.hash = r.hash;
      }
      progress.advance(rows.length);
      if (rows.length < BATCH) break;
      const last = rows[rows.length - 1];
      after = [last.resource_type, last.resource_id, last.version_id];
    }
    progress.stop();
    // A version written after the document's last entry, with none of its own (the write's entry removed).
    const behind = (
      await client.query<{ resource_type: string; resource_id: string; last_entry: number }>(
        `SELECT l.resource_type, l.resource_id, max(l.version_id) AS last_entry FROM edit_ledger l
          WHERE ($1::text IS NULL OR (l.resource_type = $1 AND l.resource_id = $2))
          GROUP BY 1, 2
         HAVING (SELECT max(v.version_id) FROM fhir_resource_version v WHERE v.resource_type = l.resource_type AND v.id = l.resource_id) > max(l.version_id)`,
        [type ?? null, id ?? null],
      )
    ).rows;
    for (const b of behind) {
      const key = `${b.resource_type}/${b.resource_id}`;
      if (breaks.some((x) => x.document === key)) continue;
      breaks.push({ document: key, version: b.last_entry + 1, problem: 'entry-missing', detail: `${key}: version ${b.last_entry + 1} has no ledger entry` });
    }
    // A governed document whose entries were all removed: its versions have none (documents are
    // governed from their creation, so every document of a type that has entries has them).
    const orphans = (
      await client.query<{ resource_type: string; id: string }>(
        `SELECT r.resource_type, r.id FROM fhir_resource r
          WHERE r.resource_type IN (SELECT DISTINCT resource_type FROM edit_ledger)
            AND ($1::text IS NULL OR (r.resource_type = $1 AND r.id = $2))
            AND NOT EXISTS (SELECT 1 FROM edit_ledger l WHERE l.resource_type = r.resource_type AND l.resource_id = r.id)
            AND r.last_updated >= (SELECT min(recorded) FROM edit_ledger)`,
        [type ?? null, id ?? null],
      )
    ).rows;
    documents += orphans.length;
    for (const o of orphans) breaks.push({ document: `${o.resource_type}/${o.id}`, version: 1, problem: 'entry-missing', detail: `${o.resource_type}/${o.id}: it has no ledger entry at all` });
    // What GET serves must be the latest version the ledger vouches for.
    const drifted = (
      await client.query<{ resource_type: string; id: string; version_id: number }>(
        `SELECT r.resource_type, r.id, r.version_id FROM fhir_resource r
           JOIN fhir_resource_version v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version_id = r.version_id
          WHERE r.resource_type IN (SELECT DISTINCT resource_type FROM edit_ledger)
            AND ($1::text IS NULL OR (r.resource_type = $1 AND r.id = $2))
            AND r.content IS DISTINCT FROM v.content`,
        [type ?? null, id ?? null],
      )
    ).rows;
    for (const d of drifted) {
      const key = `${d.resource_type}/${d.id}`;
      if (!breaks.some((b) => b.document === key)) {
        breaks.push({ document: key, version: d.version_id, problem: 'version-altered', detail: `${key}: the current content differs from its version ${d.version_id} as stored and recorded` });
      }
    }
    breaks.sort((a, b) => (a.document < b.document ? -1 : a.document > b.document ? 1 : 0));
    return { documents, entries, root: await ledgerRoot(client, type, id), broken: breaks[0], breaks, ms: Date.now() - started };
  } finally {
    await client.end();
  }
}

function sameColumns(e: LedgerEntry, r: { resource_type: string; resource_id: string; version_id: number; recorded: Date; editor: string; kind: string; reason: string | null; doc_type: string | null }): boolean {
  return (
    Date.parse(e.recorded) === new Date(r.recorded).getTime() &&
    e.resourceType === r.resource_type &&
    e.id === r.resource_id &&
    e.version === r.version_id &&
    e.editor === r.editor &&
    e.kind === r.kind &&
    (e.reason ?? null) === r.reason &&
    (e.docType ?? null) === r.doc_type
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The digest of every document's last ledger entry (see `LedgerReport.root`). */
export async function ledgerRoot(client: { query: pg.Client['query'] }, type?: string, id?: string): Promise<string> {
  const rows = (
    await client.query<{ doc: string; version_id: number; hash: Buffer }>(
      `SELECT DISTINCT ON (resource_type, resource_id) resource_type || '/' || resource_id AS doc, version_id, hash
         FROM edit_ledger WHERE ($1::text IS NULL OR (resource_type = $1 AND resource_id = $2))
        ORDER BY resource_type, resource_id, version_id DESC`,
      [type ?? null, id ?? null],
    )
  ).rows;
  const digest = createHash('sha256');
  for (const r of rows.sort((a, b) => (a.doc < b.doc ? -1 : a.doc > b.doc ? 1 : 0))) digest.update(`${r.doc} ${r.version_id} ${r.hash.toString('hex')}\n`);
  return digest.digest('hex');
}

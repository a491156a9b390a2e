import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { contentSha256 } from '../governance/domain/ledger.js';
import { CONTENT_SHA256_EXTENSION } from '../copies/document-bundle.js';
import { inventoryDigest, statedInventory, type InventoryLine } from './domain/dispute-case.js';

/** One difference between a case's inventory, its sealed copies and the store. */
export interface SealProblem {
  problem:
    | 'version-missing' // the sealed version is gone from the version history
    | 'version-altered' // the sealed version's content no longer hashes to the inventory line
    | 'changed-after-seal' // the record's current version is not the sealed one while the case is sealed
    | 'copy-altered' // a sealed copy's bytes no longer hash to what was recorded at sealing
    | 'copy-mismatch'; // a sealed copy does not hold exactly the inventory lines it sealed, with their hashes
  ref: string;
  detail: string;
}

export interface SealReport {
  dispute: string;
  status: string;
  sealed: number;
  pending: number;
  copies: number;
  problems: SealProblem[];
  ms: number;
}

interface Item {
  resource_type: string;
  resource_id: string;
  version_id: number;
  status: 'sealed' | 'pending';
  sha256: string | null;
  copy_no: number | null;
  version_content: Resource | null;
  current_version: number | null;
}

/**
 * `chartwarden seal verify <dispute-id>`: recomputes every sealed line's hash from the
 * version history, checks that no sealed record moved on while the case is sealed, and that
 * each sealed copy (Bundle and PDF) still hashes to what was recorded and holds exactly the
 * lines it sealed, with the same hashes. Each copy's inventory digest (the one both sides
 * confirmed, printed on it) is recomputed over the lines sealed up to that copy and the pending
 * lines it lists, and must match what was recorded and what the copy states. Reads only.
 */
export async function verifySeal(databaseUrl: string, disputeId: string): Promise<SealReport> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'chartwarden-seal-verify' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: cases } = await client.query<{ status: string }>(`SELECT status FROM dispute WHERE id::text = $1`, [disputeId]);
    if (cases.length === 0) throw new Error(`seal verify: no dispute ${disputeId}`);
    const { rows: items } = await client.query<Item>(
      `SELECT i.resource_type, i.resource_id, i.version_id, i.status, i.sha256, i.copy_no, v.content AS version_content, r.version_id AS current_version
         FROM dispute_item i
         LEFT JOIN fhir_resource_version v ON v.resource_type = i.resource_type AND v.id = i.resource_id AND v.version_id = i.version_id
         LEFT JOIN fhir_resource r ON r.resource_type = i.resource_type AND r.id = i.resource_id
        WHERE i.dispute_id::text = $1 ORDER BY i.resource_type, i.resource_id`,
      [disputeId],
    );
    const { rows: copies } = await client.query<{ copy_no: number; bundle: string; bundle_sha256: string; pdf: Buffer; pdf_sha256: string; inventory_sha256: string }>(
      `SELECT copy_no, bundle, bundle_sha256, pdf, pdf_sha256, inventory_sha256 FROM dispute_copy WHERE dispute_id::text = $1 ORDER BY copy_no`,
      [disputeId],
    );
    await client.query('COMMIT');
    const status = cases[0].status;
    const problems: SealProblem[] = [];
    const sealed = items.filter((i) => i.status === 'sealed');
    for (const i of sealed) {
      const ref = `${i.resource_type}/${i.resource_id} v${i.version_id}`;
      if (!i.version_content) problems.push({ problem: 'version-missing', ref, detail: `${ref} is sealed but no longer in the version history` });
      else if (contentSha256(i.version_content) !== i.sha256) problems.push({ problem: 'version-altered', ref, detail: `${ref} hashes to ${contentSha256(i.version_content)}, sealed as ${i.sha256}` });
      if (status === 'sealed' && i.current_version !== i.version_id) {
        problems.push({ problem: 'changed-after-seal', ref, detail: `${i.resource_type}/${i.resource_id} is at version ${i.current_version ?? 'none'} while sealed at ${i.version_id}` });
      }
    }
    const byRef = new Map(items.map((i) => [`${i.resource_type}/${i.resource_id}`, i]));
    for (const c of copies) {
      const ref = `copy ${c.copy_no}`;
      if (sha256(Buffer.from(c.bundle, 'utf8')) !== c.bundle_sha256) problems.push({ problem: 'copy-altered', ref, detail: `${ref}: the electronic copy no longer hashes to ${c.bundle_sha256}` });
      if (sha256(c.pdf) !== c.pdf_sha256) problems.push({ problem: 'copy-altered', ref, detail: `${ref}: the PDF no longer hashes to ${c.pdf_sha256}` });
      const upTo = sealed.filter((i) => i.copy_no !== null && i.copy_no <= c.copy_no).map(sealedLine);
      const lines = sealed.filter((i) => i.copy_no === c.copy_no).map(sealedLine);
      let bundle: Bundle;
      try {
        bundle = JSON.parse(c.bundle) as Bundle;
      } catch {
        problems.push({ problem: 'copy-altered', ref, detail: `${ref}: the electronic copy is not JSON` });
        continue;
      }
      problems.push(...bundleProblems(ref, bundle, lines), ...inventoryProblems(ref, c.copy_no, c.inventory_sha256, bundle, upTo, byRef));
    }
    return { dispute: disputeId, status, sealed: sealed.length, pending: items.length - sealed.length, copies: copies.length, problems, ms: Date.now() - started };
  } finally {
    await client.end();
  }
}

/**
 * The copy's inventory digest: stated in the copy as recorded, and recomputed over every line
 * sealed up to this copy and the pending lines the copy lists, each of which the inventory still
 * holds (pending at that version, or sealed by a later copy).
 */
function inventoryProblems(
  ref: string,
  copyNo: number,
  recorded: string,
  bundle: Bundle,
  sealedUpTo: readonly InventoryLine[],
  items: ReadonlyMap<string, Item>,
): SealProblem[] {
  const stated = statedInventory(bundle);
  if (!stated) return [{ problem: 'copy-mismatch', ref, detail: `${ref}: the electronic copy does not state its inventory (digest and pending lines)` }];
  const problems: SealProblem[] = [];
  if (stated.digest !== recorded) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: the electronic copy states inventory digest ${stated.digest}, recorded ${recorded}` });
  const digest = inventoryDigest([...sealedUpTo, ...stated.pending]);
  if (digest !== recorded) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: its inventory (sealed lines up to it, pending lines it lists) digests to ${digest}, recorded ${recorded}` });
  for (const p of stated.pending) {
    const i = items.get(`${p.type}/${p.id}`);
    const held = i && (i.status === 'pending' ? i.version_id === p.version : i.copy_no !== null && i.copy_no > copyNo);
    if (!held) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: lists ${p.type}/${p.id} v${p.version} as pending; the inventory does not` });
  }
  return problems;
}

function sealedLine(i: Item): InventoryLine {
  return { type: i.resource_type, id: i.resource_id, version: i.version_id, status: 'sealed', sha256: i.sha256 as string };
}

/** The Bundle holds exactly the copy's lines: same versions, each entry's content and hash matching the line. */
function bundleProblems(ref: string, bundle: Bundle, lines: readonly InventoryLine[]): SealProblem[] {
  const problems: SealProblem[] = [];
  // The first entry is the document's own Composition (the manifest); the sealed records follow.
  const entries = (bundle.entry ?? []).slice(1);
  const byRef = new Map(entries.map((e) => [`${e.resource?.resourceType}/${e.resource?.id}`, e]));
  for (const l of lines) {
    const e = byRef.get(`${l.type}/${l.id}`);
    const hash = e?.extension?.find((x) => x.url === CONTENT_SHA256_EXTENSION)?.valueString;
    if (!e?.resource) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: ${l.type}/${l.id} is sealed but not in the electronic copy` });
    else if (Number(e.resource.meta?.versionId) !== l.version || hash !== l.sha256 || contentSha256(e.resource) !== l.sha256) {
      problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: ${l.type}/${l.id} in the electronic copy differs from the sealed v${l.version}` });
    }
  }
  if (entries.length !== lines.length) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: ${entries.length} records in the electronic copy, ${lines.length} sealed lines` });
  return problems;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

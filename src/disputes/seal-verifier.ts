import { createHash } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import { contentSha256 } from '../common/content-hash.js';
import { CONTENT_SHA256_EXTENSION } from '../copies/document-bundle.js';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import type { DisputesRepository } from './disputes.repository.js';
import { inventoryDigest, statedInventory, type InventoryLine } from './domain/dispute-case.js';
import type { InventoryItem } from './domain/dispute-records.js';

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

/** What `seal verify` found for one case: its counts, and every problem (none: the case is intact). */
export interface SealReport {
  dispute: string;
  status: string;
  sealed: number;
  pending: number;
  copies: number;
  problems: SealProblem[];
  ms: number;
}

/**
 * `chartwarden seal verify <dispute-id>`: recomputes every sealed line's hash from the
 * version history, checks that no sealed record moved on while the case is sealed, and that
 * each sealed copy (Bundle and PDF) still hashes to what was recorded and holds exactly the
 * lines it sealed, with the same hashes. Each copy's inventory digest (the one both sides
 * confirmed, printed on it) is recomputed over the lines sealed up to that copy and the pending
 * lines it lists, and must match what was recorded and what the copy states. Reads only: the
 * case's own tables through its repository, the versions through the store's record index (the
 * port: the CLI builds both over its own connection, in one snapshot).
 */
export async function checkSeal(cases: DisputesRepository, records: PatientRecordIndex, disputeId: string): Promise<SealReport> {
  const started = Date.now();
  const c = await cases.find(disputeId);
  if (!c) throw new Error(`seal verify: no dispute ${disputeId}`);
  const items = await cases.items(c.id);
  const copies = await cases.copiesWithFiles(c.id);
  const sealed = items.filter((i) => i.line.status === 'sealed');
  const versions = await records.versions(sealed.map((i) => ({ type: i.line.type, id: i.line.id, version: String(i.line.version) })));
  const current = await records.currentVersions(sealed.map((i) => ({ type: i.line.type, id: i.line.id })));
  const problems: SealProblem[] = [];
  for (const { line: l } of sealed) {
    const ref = `${l.type}/${l.id} v${l.version}`;
    const content = versions.get(`${l.type}/${l.id}/${l.version}`);
    if (!content) problems.push({ problem: 'version-missing', ref, detail: `${ref} is sealed but no longer in the version history` });
    else if (contentSha256(content) !== l.sha256) problems.push({ problem: 'version-altered', ref, detail: `${ref} hashes to ${contentSha256(content)}, sealed as ${l.sha256}` });
    const now = current.get(`${l.type}/${l.id}`);
    if (c.status === 'sealed' && now !== String(l.version)) {
      problems.push({ problem: 'changed-after-seal', ref, detail: `${l.type}/${l.id} is at version ${now ?? 'none'} while sealed at ${l.version}` });
    }
  }
  const byRef = new Map(items.map((i) => [`${i.line.type}/${i.line.id}`, i]));
  for (const k of copies) {
    const ref = `copy ${k.n}`;
    if (sha256(Buffer.from(k.bundle, 'utf8')) !== k.bundleSha256) problems.push({ problem: 'copy-altered', ref, detail: `${ref}: the electronic copy no longer hashes to ${k.bundleSha256}` });
    if (sha256(k.pdf) !== k.pdfSha256) problems.push({ problem: 'copy-altered', ref, detail: `${ref}: the PDF no longer hashes to ${k.pdfSha256}` });
    const upTo = sealed.filter((i) => i.copyNo !== undefined && i.copyNo <= k.n).map((i) => i.line);
    const lines = sealed.filter((i) => i.copyNo === k.n).map((i) => i.line);
    let bundle: Bundle;
    try {
      bundle = JSON.parse(k.bundle) as Bundle;
    } catch {
      problems.push({ problem: 'copy-altered', ref, detail: `${ref}: the electronic copy is not JSON` });
      continue;
    }
    problems.push(...bundleProblems(ref, bundle, lines), ...inventoryProblems(ref, k.n, k.inventorySha256, bundle, upTo, byRef));
  }
  return { dispute: disputeId, status: c.status, sealed: sealed.length, pending: items.length - sealed.length, copies: copies.length, problems, ms: Date.now() - started };
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
  items: ReadonlyMap<string, InventoryItem>,
): SealProblem[] {
  const stated = statedInventory(bundle);
  if (!stated) return [{ problem: 'copy-mismatch', ref, detail: `${ref}: the electronic copy does not state its inventory (digest and pending lines)` }];
  const problems: SealProblem[] = [];
  if (stated.digest !== recorded) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: the electronic copy states inventory digest ${stated.digest}, recorded ${recorded}` });
  const digest = inventoryDigest([...sealedUpTo, ...stated.pending]);
  if (digest !== recorded) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: its inventory (sealed lines up to it, pending lines it lists) digests to ${digest}, recorded ${recorded}` });
  for (const p of stated.pending) {
    const i = items.get(`${p.type}/${p.id}`);
    const held = i && (i.line.status === 'pending' ? i.line.version === p.version : i.copyNo !== undefined && i.copyNo > copyNo);
    if (!held) problems.push({ problem: 'copy-mismatch', ref, detail: `${ref}: lists ${p.type}/${p.id} v${p.version} as pending; the inventory does not` });
  }
  return problems;
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

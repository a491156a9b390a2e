import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';
import type { Progress } from '../common/progress.js';
import type { LedgerHead, LedgerHeads } from '../audit/ledger-heads.port.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { PatientRecordIndex, RecordRef } from '../store/patient-record-index.port.js';
import { LEDGER_GENESIS, type LedgerEntry } from './domain/ledger.js';
import { documentKey, type LedgerReadsRepository, type LastEntry, type LedgerPosition, type LedgerRow } from './ledger-reads.repository.js';

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

/** Ledger rows (and the versions they record) read at once: what the verifier holds in memory. */
const BATCH = 5000;

/** The digest of every document's last ledger entry (of `document` only, when given; see `LedgerReport.root`). */
export async function ledgerRoot(ledger: LedgerReadsRepository, document?: RecordRef): Promise<string> {
  return rootOf(await ledger.lastEntries(document));
}

/**
 * The edit ledger as a signed checkpoint holds it: governance's answer to audit's
 * `LedgerHeads` port, so the checkpoint signs the same root `ledger verify` prints without
 * audit reading the ledger's table.
 */
export class LedgerCheckpointHeads implements LedgerHeads {
  constructor(private readonly ledger: LedgerReadsRepository) {}

  async current(unit: UnitOfWork): Promise<{ root: string; documents: LedgerHead[] }> {
    const last = await this.ledger.lastEntries(undefined, unit);
    const documents = last.map((e): LedgerHead => [documentKey(e), e.version, e.hash.toString('hex')]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { root: rootOf(last), documents };
  }

  async hashesOf(unit: UnitOfWork, entries: readonly (readonly [string, number])[]): Promise<Map<string, string>> {
    const refs = entries.map(([doc, version]) => ({ type: doc.slice(0, doc.indexOf('/')), id: doc.slice(doc.indexOf('/') + 1), version }));
    const found = await this.ledger.hashesAt(refs, unit);
    return new Map(found.map((f) => [`${documentKey(f)} ${f.version}`, f.hash.toString('hex')]));
  }
}

/**
 * Recomputes the edit ledger's chains: for each governed document, in version
 * order, each entry must hash to its stored hash over its predecessor's, its columns must say
 * what its entry says, its version must follow the previous one, and the stored version must
 * still hash to the entry's `contentSha256` (a version edited in the database shows here).
 * A version newer than the last entry, with no entry, is reported missing. The checks of
 * `chartwarden ledger verify`, over the ledger's rows (its repository) and the store's versions
 * (its record index, the port: the CLI builds both over its own connection). Each check reads
 * the ledger again after the store, so a write committed while it runs (its version and its
 * entry commit together) is never mistaken for a break.
 */
export class LedgerVerifier {
  constructor(
    private readonly ledger: LedgerReadsRepository,
    private readonly records: PatientRecordIndex,
  ) {}

  /** Every check, over every document (or `document` alone). */
  async verify(document: RecordRef | undefined, progress: Progress): Promise<Omit<LedgerReport, 'ms'>> {
    const breaks: LedgerBreak[] = [];
    const scanned = await this.chains(document, progress, breaks);
    const last = await this.ledger.lastEntries(document);
    await this.behind(last, breaks);
    const { types, since } = await this.ledger.coverage();
    const orphans = await this.orphans(last, types, since, document);
    for (const o of orphans) breaks.push({ document: documentKey(o), version: 1, problem: 'entry-missing', detail: `${documentKey(o)}: it has no ledger entry at all` });
    await this.drifted(types, document, breaks);
    breaks.sort((a, b) => (a.document < b.document ? -1 : a.document > b.document ? 1 : 0));
    return { documents: scanned.documents + orphans.length, entries: scanned.entries, root: rootOf(last), broken: breaks[0], breaks };
  }

  /** Walks every chain, `BATCH` rows and their versions at a time; the first break of each document is pushed. */
  private async chains(document: RecordRef | undefined, progress: Progress, breaks: LedgerBreak[]): Promise<{ documents: number; entries: number }> {
    let documents = 0;
    let entries = 0;
    let current: { key: string; version: number; hash: Buffer; broken: boolean } | undefined;
    let after: LedgerPosition | undefined;
    progress.start(await this.ledger.count(document));
    for (;;) {
      const rows = await this.ledger.rowsAfter(after, BATCH, document);
      const contents = await this.records.versions(rows.map((r) => ({ type: r.type, id: r.id, version: String(r.version) })));
      for (const r of rows) {
        const key = documentKey(r);
        if (current?.key !== key) {
          documents++;
          current = { key, version: r.version - 1, hash: LEDGER_GENESIS, broken: false };
          // A chain that does not start at the genesis lost its first entries.
          if (!r.prevHash.equals(LEDGER_GENESIS)) {
            breaks.push({ document: key, version: 1, problem: 'entry-missing', detail: `${key}: the entries before version ${r.version} are missing (its entry links to an earlier one)` });
            current.broken = true;
          }
        }
        entries++;
        if (current.broken) continue;
        const problem = linkProblem(r, current, contents.get(`${key}/${r.version}`));
        if (problem) {
          breaks.push({ document: key, version: problem.version, problem: problem.problem, detail: `${key}: ${problem.detail}` });
          current.broken = true;
        }
        current.version = r.version;
        current.hash = r.hash;
      }
      progress.advance(rows.length);
      if (rows.length < BATCH) break;
      const lastRow = rows[rows.length - 1];
      after = { type: lastRow.type, id: lastRow.id, version: lastRow.version };
    }
    progress.stop();
    return { documents, entries };
  }

  /** A version written after the document's last entry, with none of its own (the write's entry removed). */
  private async behind(last: readonly LastEntry[], breaks: LedgerBreak[]): Promise<void> {
    const suspects: { ref: RecordRef; current: number }[] = [];
    for (let i = 0; i < last.length; i += BATCH) {
      const slice = last.slice(i, i + BATCH);
      const current = await this.records.currentVersions(slice);
      for (const e of slice) {
        const version = Number(current.get(documentKey(e)));
        if (version > e.version) suspects.push({ ref: { type: e.type, id: e.id }, current: version });
      }
    }
    // The ledger read again after the store: an entry committed in between is no gap.
    const lastNow = await this.ledger.lastVersionsOf(suspects.map((s) => s.ref));
    for (const s of suspects) {
      const key = documentKey(s.ref);
      const lastEntry = lastNow.get(key);
      if (lastEntry === undefined || lastEntry >= s.current || breaks.some((x) => x.document === key)) continue;
      breaks.push({ document: key, version: lastEntry + 1, problem: 'entry-missing', detail: `${key}: version ${lastEntry + 1} has no ledger entry` });
    }
  }

  /**
   * Governed documents whose entries were all removed: their versions have none (documents are
   * governed from their creation, so every document of a type that has entries, written since
   * the first entry, has them).
   */
  private async orphans(last: readonly LastEntry[], types: readonly string[], since: Date | undefined, document: RecordRef | undefined): Promise<RecordRef[]> {
    if (types.length === 0 || !since) return [];
    const known = new Set(last.map(documentKey));
    const suspects = (await this.records.recordsUpdatedSince(types, since, document)).filter((r) => !known.has(documentKey(r)));
    const written = await this.ledger.lastVersionsOf(suspects);
    return suspects.filter((r) => !written.has(documentKey(r)));
  }

  /** What GET serves must be the latest version the ledger vouches for. */
  private async drifted(types: readonly string[], document: RecordRef | undefined, breaks: LedgerBreak[]): Promise<void> {
    if (types.length === 0) return;
    for (const d of await this.records.currentDiffersFromVersion(types, document)) {
      const key = documentKey(d);
      if (breaks.some((b) => b.document === key)) continue;
      breaks.push({ document: key, version: Number(d.version), problem: 'version-altered', detail: `${key}: the current content differs from its version ${d.version} as stored and recorded` });
    }
  }
}

/** What is wrong with entry `r` following `previous` in its chain, given the stored version it records (if any). */
function linkProblem(r: LedgerRow, previous: { version: number; hash: Buffer }, content: unknown): Pick<LedgerBreak, 'version' | 'problem' | 'detail'> | undefined {
  const entry = JSON.parse(r.entry) as LedgerEntry;
  const hash = createHash('sha256').update(r.prevHash).update(r.entry, 'utf8').digest();
  if (r.version !== previous.version + 1) {
    return { version: previous.version + 1, problem: 'entry-missing', detail: `version ${previous.version + 1} has no ledger entry (the next entry is for version ${r.version})` };
  }
  if (!r.prevHash.equals(previous.hash)) return { version: r.version, problem: 'link-broken', detail: `the entry of version ${r.version} does not point to the hash of version ${previous.version}'s entry` };
  if (!hash.equals(r.hash)) return { version: r.version, problem: 'entry-altered', detail: `the entry of version ${r.version} does not match its hash` };
  if (!sameColumns(entry, r)) return { version: r.version, problem: 'entry-altered', detail: `the columns of version ${r.version}'s entry no longer say what its hashed entry says` };
  if (content === undefined || sha256(canonicalJson(content)) !== entry.contentSha256) {
    const why = content === undefined ? 'is missing' : 'is not the version the ledger recorded (its SHA-256 differs)';
    return { version: r.version, problem: 'version-altered', detail: `stored version ${r.version} ${why}` };
  }
  return undefined;
}

function sameColumns(e: LedgerEntry, r: LedgerRow): boolean {
  return (
    Date.parse(e.recorded) === new Date(r.recorded).getTime() &&
    e.resourceType === r.type &&
    e.id === r.id &&
    e.version === r.version &&
    e.editor === r.editor &&
    e.kind === r.kind &&
    (e.reason ?? null) === r.reason &&
    (e.docType ?? null) === r.docType
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `LedgerReport.root` of these last entries. */
function rootOf(last: readonly LastEntry[]): string {
  const lines = last.map((e) => ({ doc: documentKey(e), line: `${documentKey(e)} ${e.version} ${e.hash.toString('hex')}\n` }));
  const digest = createHash('sha256');
  for (const { line } of lines.sort((a, b) => (a.doc < b.doc ? -1 : a.doc > b.doc ? 1 : 0))) digest.update(line);
  return digest.digest('hex');
}

import { Injectable } from '@nestjs/common';
import type { FhirContext } from '../fhir/fhir-request.js';
import { copyFileName } from '../fhir/fhir-response.js';
import { DisputeCaseAccess } from './dispute-case-access.js';
import { inventoryDigest } from './domain/dispute-case.js';
import type { DisputeCase, InventoryItem } from './domain/dispute-records.js';
import type { InventoryView } from './dto/dispute.view.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { DisputesRepository } from './disputes.repository.js';
import { SealedInventoryService } from './sealed-inventory.service.js';
import { UnsealRecordRepository } from './unseal-record.repository.js';
import { DisputeSignaturesRepository } from './signatures.repository.js';

/** The route name of a case's unseal record (启封记录) beside its sealed copies: `GET /disputes/{id}/copies/unseal-record.pdf`. */
export const UNSEAL_RECORD_FILE = 'unseal-record.pdf';

/** A sealed copy's file as handed out: its bytes exactly as sealed, and their SHA-256. */
export interface SealedCopyFile {
  format: 'pdf' | 'json';
  body: Buffer | string;
  sha256: string;
  filename: string;
}

/**
 * What the disputes office (and a public incident's team, R-44) reads of a case's inventory and
 * sealed copies: the inventory with its digest, each sealed copy's PDF or
 * electronic Bundle exactly as sealed, and the unseal record (启封记录, R-43) once unsealed.
 * Whoever takes a copy's file takes the versions it holds: the audit entry names each.
 * Seeing cases at all is the route's `list` on Dispute.
 */
@Injectable()
export class SealedCopiesService {
  constructor(
    private readonly access: DisputeCaseAccess,
    private readonly cases: DisputesRepository,
    private readonly inventory: SealedInventoryService,
    private readonly unsealRecords: UnsealRecordRepository,
    private readonly signatures: DisputeSignaturesRepository,
  ) {}

  /**
   * The patient side's drawn signature `{sha256}.png`, exactly as received at sealing or
   * unsealing, for whoever reads the case's copies.
   */
  async signature(ctx: FhirContext, id: string, file: string): Promise<{ body: Buffer; sha256: string; filename: string }> {
    const c = await this.access.requireVisibleCase(ctx, id);
    ctx.audit?.concerns([c.patient]);
    const sha256 = /^([0-9a-f]{64})\.png$/.exec(file)?.[1];
    const stored = sha256 ? await this.signatures.file(c.id, sha256) : undefined;
    if (!stored) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} has no drawn signature ${file}: signatures are named {sha256}.png, as the case's witnesses record them`);
    return { body: stored.content, sha256: stored.sha256, filename: `dispute-${id}-signature-${stored.step}.png` };
  }

  /**
   * The inventory (封存清单), with its inventory digest over every line, sealed and pending.
   * Open: what sealing now would inventory, as both sides are shown it and confirm it. Sealed or
   * unsealed: the lines as stored, each with its version and (sealed) hash and the pages it takes
   * in the copy that sealed it (`pages`, 页数); `digest` is then the
   * one printed on the latest sealed copy, unless a supplement has since inventoried new pending lines.
   */
  async lines(ctx: FhirContext, id: string): Promise<InventoryView> {
    const c = await this.access.requireVisibleCase(ctx, id);
    ctx.audit?.concerns([c.patient]);
    const items: Pick<InventoryItem, 'line' | 'copyNo'>[] = c.status === 'open' ? (await this.inventory.preview(c)).map((line) => ({ line })) : await this.cases.items(c.id);
    const lines = items.map((i) => i.line);
    const described = await this.inventory.describe(lines, c.status === 'sealed');
    // 页数: known once a copy has sealed the line, as its PDF prints it; a pending line, or an open case's, has none.
    const pages = c.status === 'open' ? new Map<number, Record<string, number>>() : await this.cases.recordPages(c.id);
    const paged = items.map(({ line, copyNo }) => {
      const n = line.status === 'sealed' && copyNo !== undefined ? pages.get(copyNo)?.[`${line.type}/${line.id}`] : undefined;
      return n === undefined ? line : { ...line, pages: n };
    });
    return { dispute: id, patient: c.patient, status: c.status, digest: inventoryDigest(lines), lines: paged, described };
  }

  /**
   * A sealed copy by its route name (`{n}.pdf` or `{n}.json`), exactly as sealed; or, named
   * `unseal-record.pdf`, the unseal record (启封记录) exactly as produced at unsealing.
   */
  async copy(ctx: FhirContext, id: string, file: string): Promise<SealedCopyFile> {
    if (file === UNSEAL_RECORD_FILE) return this.unsealRecord(ctx, id, await this.access.requireVisibleCase(ctx, id));
    const name = copyFileName(file);
    if (!name) throw new DisputeError(DisputeErrorCode.NotFound, `No sealed copy ${file}: copies are named {n}.pdf or {n}.json, the unseal record ${UNSEAL_RECORD_FILE}`);
    return this.file(ctx, id, await this.access.requireVisibleCase(ctx, id), name.n, name.format);
  }

  /** The latest sealed copy's PDF: the inventory as last sealed, for printing (`_format=pdf`). */
  async latestPdf(ctx: FhirContext, id: string): Promise<SealedCopyFile> {
    const c = await this.access.requireVisibleCase(ctx, id);
    const latest = (await this.cases.copies(c.id)).at(-1);
    if (!latest) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not sealed: there is no inventory PDF yet`);
    return this.file(ctx, id, c, latest.n, 'pdf');
  }

  /** The unseal record of `c` (`id` as asked for): it names no record's content, only the case, the people and the digest. */
  private async unsealRecord(ctx: FhirContext, id: string, c: DisputeCase): Promise<SealedCopyFile> {
    ctx.audit?.concerns([c.patient]);
    const record = await this.unsealRecords.file(c.id);
    if (!record) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is ${c.status}: it has no unseal record (one is produced when a sealed case is unsealed)`);
    return { format: 'pdf', body: record.pdf, sha256: record.pdfSha256, filename: `dispute-${id}-unseal-record.pdf` };
  }

  /** `id` as asked for, `c` the case it names. */
  private async file(ctx: FhirContext, id: string, c: DisputeCase, n: number, format: 'pdf' | 'json'): Promise<SealedCopyFile> {
    ctx.audit?.concerns([c.patient]);
    const copy = await this.cases.copyFiles(c.id, n);
    if (!copy) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} has no sealed copy ${n}`);
    // Whoever takes the copy's file takes these versions: the entry names each.
    ctx.audit?.as({ disclosed: await this.cases.versionsInCopy(c.id, n) });
    const filename = `dispute-${id}-${n}.${format}`;
    return format === 'pdf' ? { format, body: copy.pdf, sha256: copy.pdfSha256, filename } : { format, body: copy.bundle, sha256: copy.bundleSha256, filename };
  }
}

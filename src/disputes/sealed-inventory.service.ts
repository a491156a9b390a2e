import { Injectable } from '@nestjs/common';
import type { ManifestEntry } from '../copies/document-bundle.js';
import { namesFor } from '../copies/paper.js';
import { patientBlock, type PatientBlock } from '../copies/patient-block.js';
import { encountersNotOf } from '../copies/patient-record.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { CLOSED_STATUSES } from '../policy/domain/document-status.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import type { IndexedRecord, PatientRecordIndex, RecordRef } from '../store/patient-record-index.port.js';
import type { DisputeStep } from './dispute-steps.js';
import { recordDate } from '../copies/record-date.js';
import { inventoryDigest, inventoryLine, isComplete, scopePeriod, type InventoryLine } from './domain/dispute-case.js';
import type { DisputeCase, InventoryItem, SealWitnesses, Unsealing } from './domain/dispute-records.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { DisputesRepository } from './disputes.repository.js';
import { sealedCopyPapers } from './sealed-copy.papers.js';
import { paperSettings, recordName } from './dispute-paper-parts.js';
import type { InventoryLineDescription } from './dto/dispute.view.js';
import { UnsealRecordService } from './unseal-record.service.js';

/** A sealing or a supplement: who was at the table, and for a seal the inventory digest both sides confirmed. */
export interface Freezing {
  kind: 'seal' | 'supplement';
  witnesses: SealWitnesses;
  confirmedDigest?: string;
  /** The patient side's drawn signature (PNG), drawn on the copy's signature line. */
  signaturePng?: Buffer;
}

/**
 * A case's inventory (封存清单) and its sealed copies (R-40…R-42): what sealing the scope now
 * would inventory, and the freezing itself, which writes the inventory lines and a sealed copy
 * (electronic Bundle + PDF) identical for both sides. The records in scope are asked of the
 * store's `PatientRecordIndex`, in the step's own transaction when freezing.
 */
@Injectable()
export class SealedInventoryService {
  constructor(
    private readonly store: FhirStore,
    private readonly cases: DisputesRepository,
    private readonly policy: LoadedPolicy,
    private readonly unsealRecords: UnsealRecordService,
  ) {}

  /** Of `encounters`, those that are not the patient's: a case seals its own patient's visits. */
  foreignEncounters(patient: string, encounters: readonly string[]): Promise<string[]> {
    return encountersNotOf(this.store.records, patient, encounters);
  }

  /** What sealing the open case now would inventory, as both sides are shown it and confirm it. */
  async preview(c: DisputeCase): Promise<InventoryLine[]> {
    const records = this.store.records;
    const scoped = await this.scoped(records, c, await this.encounters(records, c), await this.cases.items(c.id), false);
    return scoped.map((r) => this.lineOf(r));
  }

  /**
   * How people read each line (display only, outside the digest): its Chinese name (文书名称) as
   * the sealed copy prints it, its own date (ISO 8601, as the record gives it; a visit's period),
   * and for a pending line of a sealed case whether the record has since been completed, so a
   * supplement would now seal it. Keyed `Type/id`.
   */
  async describe(lines: readonly InventoryLine[], sealedCase: boolean): Promise<Record<string, InventoryLineDescription>> {
    const records = this.store.records;
    const contents = await records.versions(lines.map((l) => ({ type: l.type, id: l.id, version: String(l.version) })));
    const pending = sealedCase ? lines.filter((l) => l.status === 'pending') : [];
    const current = pending.length ? await records.readMany(pending.map((l) => ({ type: l.type, id: l.id }))) : [];
    const completed = new Set(current.filter((r) => this.complete(r.resource)).map((r) => `${r.resource.resourceType}/${r.resource.id}`));
    const settings = paperSettings(this.policy);
    const described: Record<string, InventoryLineDescription> = {};
    for (const l of lines) {
      const ref = `${l.type}/${l.id}`;
      const resource = contents.get(`${ref}/${l.version}`);
      const period = resource?.resourceType === 'Encounter' ? resource.period : undefined;
      const date = period ? period.start : resource && recordDate(resource);
      described[ref] = {
        name: resource ? recordName(resource, settings) : l.type,
        ...(date ? { date } : {}),
        ...(period?.end ? { end: period.end } : {}),
        ...(completed.has(ref) ? { completedSince: true } : {}),
      };
    }
    return described;
  }

  private complete(resource: IndexedRecord['resource']): boolean {
    return isComplete(resource, this.policy.governedResources, CLOSED_STATUSES);
  }

  /**
   * Inventories the case's scope as it stands, in the step's unit: locks the patient and the
   * scope's encounters, then every record in scope (`FOR UPDATE`, so a concurrent write either
   * commits first and is inventoried, or waits and is refused by the hold guard, decision 0008).
   * New complete records and completed pending ones are sealed into a new copy; unfinished ones
   * are pending. With a confirmed digest, nothing is sealed if the inventory changed since (409).
   * Returns the references sealed by this copy (none: a supplement with nothing new writes no copy).
   */
  async freeze(step: DisputeStep, ctx: FhirContext, c: DisputeCase, freezing: Freezing): Promise<string[]> {
    const records = this.store.within(step.unit).records;
    const encounters = await this.encounters(records, c);
    await records.lock([{ type: 'Patient', id: c.patient }, ...encounters.map((id) => ({ type: 'Encounter', id }))], 'update');
    const known = await this.cases.items(c.id, step.unit);
    const scoped = await this.scoped(records, c, encounters, known, true);
    // Each record's line (complete or pending, its hash) once: the digest check, the inventory and the copy use it.
    const all = scoped.map((r) => this.lineOf(r));
    if (freezing.confirmedDigest !== undefined) requireUnchanged(c.id, freezing.confirmedDigest, inventoryDigest(all));
    const byRef = new Map(known.map((i) => [`${i.line.type}/${i.line.id}`, i]));
    const n = await this.cases.nextCopyNo(c.id, step.unit);
    const entries: ManifestEntry[] = [];
    const sealed: InventoryLine[] = [];
    const pending: InventoryLine[] = [];
    for (const [i, r] of scoped.entries()) {
      const line = all[i];
      const before = byRef.get(`${line.type}/${line.id}`);
      if (before?.line.status === 'sealed') continue;
      if (line.sha256) {
        entries.push({ resource: r.resource, sha256: line.sha256 });
        sealed.push(line);
      } else {
        // A pending line stays as first inventoried: the copy lists it as the inventory stores it.
        pending.push(before ? before.line : line);
      }
      if (!before) await this.cases.addItem(c.id, line, n, step.unit);
      else if (line.sha256) await this.cases.sealItem(c.id, line, n, step.unit);
    }
    if (freezing.kind === 'supplement' && entries.length === 0) return [];
    // The inventory as of this copy: lines sealed by earlier copies, by this one, and those pending.
    // For the first copy these are exactly the lines shown and confirmed: its digest is the confirmed one.
    const earlier = known.filter((i) => i.line.status === 'sealed');
    const digest = inventoryDigest([...earlier.map((i) => i.line), ...sealed, ...pending]);
    // What the paper names: the records' authors and signers, and the people at the table; the earlier and pending lines' content, for their names and dates.
    const contents = await records.versions([...earlier.map((i) => i.line), ...pending].map((l) => ({ type: l.type, id: l.id, version: String(l.version) })));
    const w = freezing.witnesses.hospital;
    const papers = await sealedCopyPapers({
      dispute: c,
      n,
      kind: freezing.kind,
      patient: await this.patientOnPaper(records, c, encounters, step.at),
      author: ctx.actor.practitioner,
      at: step.at,
      baseUrl: ctx.baseUrl,
      settings: paperSettings(this.policy),
      names: await namesFor(records, [...entries.map((e) => e.resource), ...contents.values()], [ctx.actor.practitioner, w.practitioner, ...(w.officer ? [w.officer] : [])]),
      witnesses: freezing.witnesses,
      digest,
      earlier,
      entries,
      sealed,
      pending,
      // Keyed `Type/id/version`, as the papers look them up (`versionKey`).
      contents,
      ...(freezing.signaturePng ? { signaturePng: freezing.signaturePng } : {}),
    });
    await this.cases.addCopy(
      c.id,
      {
        n,
        kind: freezing.kind,
        createdAt: step.at,
        createdBy: ctx.actor.id,
        witnesses: freezing.witnesses,
        inventorySha256: digest,
        bundle: papers.bundle.text,
        bundleSha256: papers.bundle.sha256,
        pdf: papers.pdf.bytes,
        pdfSha256: papers.pdf.sha256,
        pages: papers.pdf.pages,
        recordPages: Object.fromEntries(sealed.map((l, i) => [`${l.type}/${l.id}`, papers.recordPages[i].count])),
      },
      step.unit,
    );
    ctx.audit?.concerns([c.patient]);
    // The sealed copy goes to both sides: its entry names each version it holds.
    ctx.audit?.as({ disclosed: sealed.map((l) => ({ type: l.type, id: l.id, version: String(l.version) })) });
    return entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`);
  }

  /** Freezes an open case's scope into its first sealed copy and marks the case sealed by the officer. */
  async seal(step: DisputeStep, ctx: FhirContext, c: DisputeCase, witnesses: SealWitnesses, confirmedDigest?: string, signaturePng?: Buffer): Promise<void> {
    await this.freeze(step, ctx, c, { kind: 'seal', witnesses, ...(confirmedDigest === undefined ? {} : { confirmedDigest }), ...(signaturePng ? { signaturePng } : {}) });
    await this.cases.markSealed(c.id, step.at, ctx.actor.id, step.unit);
  }

  /**
   * Unseals a sealed case as `unsealing` justifies it and produces its unseal record
   * (启封记录) in the same unit; false, and nothing produced, when it is no longer sealed.
   */
  async unseal(step: DisputeStep, ctx: FhirContext, c: DisputeCase, unsealing: Unsealing): Promise<boolean> {
    if (!(await this.cases.markUnsealed(c.id, step.at, unsealing, step.unit))) return false;
    const records = this.store.within(step.unit).records;
    await this.unsealRecords.produce(step, ctx, c, unsealing, await this.patientOnPaper(records, c, undefined, step.at));
    return true;
  }

  /**
   * The patient as the case's papers print them: 姓名, 性别, 年龄 at `at`, 病案号,
   * and the departments and admission / discharge days of the visits in scope (`encounters`,
   * else those the case covers now), read through `records` (a step's unit).
   */
  private async patientOnPaper(records: PatientRecordIndex, c: DisputeCase, encounters: readonly string[] | undefined, at: Date): Promise<PatientBlock> {
    return patientBlock(records, c.patient, encounters ?? (await this.encounters(records, c)), {
      at,
      timeZone: this.policy.timeZone,
      recordNumberSystems: this.policy.medicalRecordNumberSystems,
    });
  }

  /** The encounters a case covers: listed, of the period (overlapping, in the hospital's time zone), or all of the patient's. */
  private encounters(records: PatientRecordIndex, c: DisputeCase): Promise<string[]> {
    if (c.scope.kind === 'encounters') return Promise.resolve(c.scope.encounters);
    return records.encountersOfPatient(c.patient, scopePeriod(c.scope, this.policy.timeZone));
  }

  /**
   * Every record in scope, locked when `lock` (freezing): the encounters and the patient's
   * records filed under them, for a whole record the rest of the patient's compartment, the
   * Provenance (signatures) of any of them, and the case's pending lines wherever they are now
   * sealed once completed, even if moved). The Patient resource itself (the master index,
   * kept by registration) is not sealed.
   */
  private scoped(records: PatientRecordIndex, c: DisputeCase, encounters: string[], known: readonly InventoryItem[], lock: boolean): Promise<IndexedRecord[]> {
    const also: RecordRef[] = known.filter((i) => i.line.status === 'pending').map((i) => ({ type: i.line.type, id: i.line.id }));
    return records.sealScope({ patient: c.patient, encounters, wholeRecord: c.scope.kind === 'whole-record', also }, lock);
  }

  private lineOf(r: IndexedRecord): InventoryLine {
    return inventoryLine(r.resource, Number(r.versionId), this.policy.governedResources, CLOSED_STATUSES);
  }
}

/** The inventory both sides confirmed is the one sealed, or nothing is. */
function requireUnchanged(id: string, confirmed: string, now: string): void {
  if (now === confirmed) return;
  throw new DisputeError(
    DisputeErrorCode.InventoryChanged,
    `The inventory of dispute ${id} changed since it was shown and confirmed (confirmed ${confirmed}, now ${now}): nothing was sealed; show it again and confirm (R-40)`,
  );
}


import { Injectable } from '@nestjs/common';
import { canonicalBundle, documentBundle } from '../copies/document-bundle.js';
import { beijingTime } from '../copies/beijing-time.js';
import { chartPatient } from '../copies/patient-record.js';
import { renderPdf, type PdfSection, type RenderedPdf } from '../copies/pdf-renderer.js';
import { partSections, type CopiedPart } from '../copies/record-parts.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import type { CopySelection, LeftOut, ManifestLine } from './domain/copy-production.js';
import type { CopyRequestRecord } from './domain/copy-request.js';
import type { RequesterType } from '../policy/domain/copy-checklists.js';

/** A production's two files: the electronic copy (canonical JSON of a `document` Bundle) and the certified PDF, each with its SHA-256. */
export interface CertifiedCopy {
  bundle: { text: string; sha256: string };
  pdf: RenderedPdf;
}

const TITLE = '病历复印件 Certified copy of medical records';

/**
 * Renders copy `n` of a request (R-32, R-33) with `copies/`: the FHIR `document` Bundle of the
 * copied versions (pending ones listed), each under its part, and the PDF stamped with the
 * hospital's record-room seal on every page, its footer carrying the Bundle's hash; its first
 * pages name the request, the patient and the requester, and the manifest with every version's
 * hash; then the record part by part (R-31), each printed as the hospital prints it.
 */
@Injectable()
export class CertifiedCopyRenderer {
  constructor(
    private readonly store: FhirStore,
    private readonly policy: LoadedPolicy,
  ) {}

  /** The patient (and the stays the charts name) are read in `unit`, with the versions the copy holds. */
  async render(ctx: FhirContext, request: CopyRequestRecord, n: number, selection: CopySelection, at: Date, unit: UnitOfWork): Promise<CertifiedCopy> {
    const titles = new Map(selection.manifest.map((m) => [m.documentType, this.partTitle(m.documentType)]));
    const bundle = canonicalBundle(
      documentBundle({
        title: TITLE,
        patient: request.patient,
        author: ctx.actor.practitioner,
        date: at,
        reference: `CopyRequest/${request.id} #${n}`,
        baseUrl: ctx.baseUrl,
        entries: selection.included.map((resource, i) => ({ resource, sha256: selection.manifest[i].sha256, part: titles.get(selection.manifest[i].documentType) })),
        pending: selection.pending.map((p) => p.ref),
      }),
    );
    const patient = await chartPatient(this.store.within(unit).records, request.patient, selection.included);
    const pdf = await renderPdf({
      title: TITLE,
      reference: `CopyRequest ${request.id} #${n}`,
      stamp: `${this.policy.hospitalName} 病案管理专用章`,
      footerHash: bundle.sha256,
      createdAt: at,
      author: ctx.actor.practitioner,
      sections: [
        requestSection(request, patient.name, at, bundle.sha256),
        manifestSection(selection.manifest, selection.pending, titles),
        ...partSections(partsOf(selection, titles), patient),
      ],
    });
    return { bundle, pdf };
  }

  /** A part as printed: its Chinese name and code (`体温单 temperature-chart`). */
  private partTitle(code: string): string {
    const zh = this.policy.documentTypes.get(code)?.zh;
    return zh ? `${zh} ${code}` : code;
  }
}

/** The copied versions grouped by the part each is copied as, in the manifest's order. */
function partsOf(selection: CopySelection, titles: ReadonlyMap<string, string>): CopiedPart[] {
  const parts = new Map<string, CopiedPart>();
  selection.included.forEach((resource, i) => {
    const code = selection.manifest[i].documentType;
    const part = parts.get(code) ?? { code, title: titles.get(code) ?? code, resources: [] };
    part.resources.push(resource);
    parts.set(code, part);
  });
  return [...parts.values()];
}

const REQUESTER_LABELS: Record<RequesterType, string> = {
  patient: '患者本人 patient',
  agent: '患者代理人 agent',
  heir: '死亡患者法定继承人/近亲属 heir',
  'heir-agent': "继承人代理人 heir's agent",
  police: '公安机关 police',
  court: '人民法院 court',
  'social-insurance': '社会保险经办机构 social insurance',
  'malpractice-assessment': '医疗事故鉴定机构 malpractice assessment',
  'commercial-insurer': '商业保险机构 commercial insurer',
};

function requestSection(r: CopyRequestRecord, patientName: string, at: Date, bundleSha: string): PdfSection {
  return {
    heading: '复印申请 Request',
    lines: [
      `申请编号 Request: ${r.id}`,
      `患者 Patient: ${patientName} (Patient/${r.patient})`,
      `申请人 Requester: ${r.requester.name} · ${REQUESTER_LABELS[r.requesterType]}${r.requester.organization ? ` · ${r.requester.organization}` : ''}`,
      `用途 Purpose: ${r.purpose}`,
      `复印时间 Produced: ${beijingTime(at.toISOString())} (北京时间 Beijing time)`,
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      '申请人核对签字 Checked by the requester: ____________',
    ],
  };
}

function manifestSection(manifest: readonly ManifestLine[], pending: readonly LeftOut[], titles: ReadonlyMap<string, string>): PdfSection {
  return {
    heading: `复印清单 Manifest (${manifest.length} records${pending.length ? `, ${pending.length} pending` : ''})`,
    lines: [
      ...manifest.map((m) => `${titles.get(m.documentType) ?? m.documentType}: ${m.type}/${m.id} v${m.version} SHA-256 ${m.sha256}`),
      ...pending.map((p) => `待完成 pending: ${p.ref} (${p.documentType})`),
    ],
  };
}

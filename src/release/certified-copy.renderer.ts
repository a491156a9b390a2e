import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { hospitalTime, hospitalTimeNamed, zoneLabel } from '../common/hospital-time.js';
import { chartPatient } from '../copies/chart-sheets.js';
import { canonicalBundle, documentBundle } from '../copies/document-bundle.js';
import { namesFor, nameOf, type Paper } from '../copies/paper.js';
import { patientBlockSection, patientOnPaper } from '../copies/patient-block.js';
import { renderPdf, type PdfSection, type RenderedPdf } from '../copies/pdf-renderer.js';
import { tableFigure } from '../copies/pdf-table.js';
import { recordDate } from '../copies/record-date.js';
import { partSections, type CopiedPart } from '../copies/record-parts.js';
import { recordEncounters } from '../copies/reference-key.js';
import { resourceTitle } from '../copies/resource-text.js';
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
 * copied versions (pending ones listed), each under its part, and the PDF headed with the
 * hospital's name and stamped with its record-room seal on every page (words and ink from
 * policy `settings.stamp`), its footer carrying the Bundle's hash. Its first page prints the
 * patient block (姓名, 性别, 年龄, 病案号, 科室, 入院/出院日期 of the visits copied), the request
 * and the manifest, each record by its Chinese document-type name with its date, version and
 * hash; then the record part by part (R-31), each printed as the hospital prints it. Every time
 * is in the hospital's zone (policy `settings.timeZone`) and every signer is named.
 */
@Injectable()
export class CertifiedCopyRenderer {
  constructor(
    private readonly store: FhirStore,
    private readonly policy: LoadedPolicy,
  ) {}

  /** The patient, the visits and the people the copy names are read in `unit`, with the versions the copy holds. */
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
    const records = this.store.within(unit).records;
    const timeZone = this.policy.timeZone;
    // The visits of the copy: those the request names, and those its records are filed under.
    const visits = [...(request.scope.encounters ?? []), ...selection.included.flatMap(recordEncounters)];
    const { block, stays } = await patientOnPaper(records, request.patient, visits, { at, timeZone, recordNumberSystems: this.policy.medicalRecordNumberSystems });
    const paper: Paper = { timeZone, names: await namesFor(records, selection.included, [ctx.actor.practitioner]) };
    const stamp = this.policy.stamp;
    const pdf = await renderPdf({
      title: `${this.policy.hospitalName} ${TITLE}`,
      reference: `CopyRequest ${request.id} #${n}`,
      stamp: `${this.policy.hospitalName} ${stamp.copy}`,
      stampColour: stamp.colour,
      footerHash: bundle.sha256,
      createdAt: at,
      author: ctx.actor.practitioner,
      sections: [
        patientBlockSection(block),
        requestSection(request, nameOf({ reference: ctx.actor.practitioner }, paper) ?? ctx.actor.practitioner, at, paper, bundle.sha256),
        ...manifestSections(selection, paper, (code) => this.policy.documentTypes.get(code)?.zh ?? code),
        ...partSections(partsOf(selection, titles), chartPatient(block, stays), paper),
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

function requestSection(r: CopyRequestRecord, producedBy: string, at: Date, paper: Paper, bundleSha: string): PdfSection {
  const zone = zoneLabel(paper.timeZone);
  return {
    heading: '复印申请 Request',
    lines: [
      `申请编号 Request: ${r.id}`,
      `申请人 Requester: ${r.requester.name} · ${REQUESTER_LABELS[r.requesterType]}${r.requester.organization ? ` · ${r.requester.organization}` : ''}`,
      `用途 Purpose: ${r.purpose}`,
      `复印时间 Produced: ${hospitalTimeNamed(at, paper.timeZone)}`,
      `经办人 Produced by: ${producedBy}`,
      `电子副本 Electronic copy SHA-256: ${bundleSha}`,
      `本复印件所列时间均为${zone} (times in this copy are ${paper.timeZone})`,
      '申请人核对签字 Checked by the requester: ____________',
    ],
  };
}

/**
 * The manifest as a table a requester checks the paper against: each copied record by its
 * document type's Chinese name (and its own title), its date in the hospital's zone, the version
 * copied, its reference and hash; then what is pending (R-32), by name.
 */
function manifestSections(selection: CopySelection, paper: Paper, typeName: (code: string) => string): PdfSection[] {
  const { manifest, included, pending } = selection;
  const rows = manifest.map((m: ManifestLine, i: number) => {
    const resource: Resource = included[i];
    const title = resourceTitle(resource);
    return { cells: [String(i + 1), `${typeName(m.documentType)}${title ? ` · ${title}` : ''}`, hospitalTime(recordDate(resource), paper.timeZone) ?? '—', `v${m.version}`, `${m.type}/${m.id}`, m.sha256] };
  });
  const table: PdfSection = {
    heading: `复印清单 Manifest（共 ${manifest.length} 份${pending.length ? `，另有 ${pending.length} 份待完成` : ''}）`,
    lines: [],
    figure: tableFigure(
      [
        { header: '序号', weight: 5, align: 'right' },
        { header: '文书名称', weight: 24 },
        { header: '日期', weight: 14 },
        { header: '版本', weight: 6 },
        { header: '记录', weight: 22 },
        { header: 'SHA-256', weight: 29 },
      ],
      rows,
    ),
  };
  if (pending.length === 0) return [table];
  return [
    table,
    {
      heading: '待完成 Pending (R-32)',
      lines: ['以下病历尚未完成，完成后另行复印 (not yet complete: copied once complete):', ...pending.map((p: LeftOut) => `待完成 pending: ${p.ref}${p.documentType ? ` · ${typeName(p.documentType)}` : ''}`)],
    },
  ];
}

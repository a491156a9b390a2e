import { maskIdNumber } from '../common/id-masking.js';
import type { Encounter, Identifier, Organization, Patient } from '@medplum/fhirtypes';
import { parseReference } from '../common/fhir-reference.js';
import { hospitalDay } from '../common/hospital-time.js';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import type { PdfSection } from './pdf-renderer.js';
import { encountersNotOf, printedName } from './patient-record.js';

/**
 * The patient as a Chinese hospital prints them at the top of a copy or an inventory
 * (病历复印件, 封存清单): 姓名, 性别, 年龄, 病案号, then 科室 and 入院/出院日期 of the visits the
 * paper holds. Read from the current Patient, the patient's own Encounters among those named
 * and their departments (serviceProvider Organizations), through the store's
 * `PatientRecordIndex` (never its tables, decision 0013); an encounter of another patient's is
 * never read (R-30). Days are local days in the hospital's time zone (policy `settings.timeZone`).
 */
export interface PatientBlock {
  name: string;
  /** 男/女/其他/未知 */
  gender?: string;
  /** e.g. `67岁`, `3月`, `12天`: computed at the paper's time (at death for a deceased patient) in the zone, from birthDate. */
  age?: string;
  /** The medical-record number, or, without one, the record's id labelled as such (never called 病案号). */
  recordNumber: { label: '病案号' | '患者ID'; value: string };
  /** 科室: the names of the departments that served the visits included, in the order of the visits. */
  departments: string[];
  /** YYYY-MM-DD: the earliest admission of the visits included. */
  admitted?: string;
  /** YYYY-MM-DD: the latest discharge of the visits included; absent while one of them is still open. */
  discharged?: string;
  /** The resident ID number, masked (`****1234`, as `maskIdNumber` masks). */
  idNumber?: string;
}

/** One of the patient's own visits a paper holds: its local admission and discharge days and its department. */
export interface Stay {
  id: string;
  admitted?: string;
  discharged?: string;
  department?: string;
}

/** How a paper reads the patient: when (its age), in which zone, and which identifier systems hold the 病案号. */
export interface PatientBlockOptions {
  at: Date;
  timeZone: string;
  recordNumberSystems: readonly string[];
}

/** The printed block of a patient, and the patient's own visits among `encounterIds` (in order of admission). */
export async function patientOnPaper(
  index: PatientRecordIndex,
  patientId: string,
  encounterIds: readonly string[],
  opts: PatientBlockOptions,
): Promise<{ block: PatientBlock; stays: Stay[] }> {
  const named = [...new Set(encounterIds)];
  const foreign = new Set(await encountersNotOf(index, patientId, named));
  const own = named.filter((e) => !foreign.has(e));
  const found = await index.readMany([{ type: 'Patient', id: patientId }, ...own.map((id) => ({ type: 'Encounter', id }))]);
  const patient = found.find((f) => f.resource.resourceType === 'Patient')?.resource as Patient | undefined;
  const encounters = found.map((f) => f.resource).filter((r): r is Encounter => r.resourceType === 'Encounter');
  const departments = await departmentNames(index, encounters);
  const stays = encounters
    .map((e): Stay & { open: boolean } => {
      const admitted = hospitalDay(e.period?.start, opts.timeZone);
      const discharged = hospitalDay(e.period?.end, opts.timeZone);
      const department = departments.get(parseReference(e.serviceProvider?.reference)?.id ?? '') ?? e.serviceProvider?.display;
      return { id: e.id as string, ...(admitted ? { admitted } : {}), ...(discharged ? { discharged } : {}), ...(department ? { department } : {}), open: isOpen(e) };
    })
    .sort((a, b) => (a.admitted ?? '9999').localeCompare(b.admitted ?? '9999') || a.id.localeCompare(b.id));
  const admitted = stays.map((s) => s.admitted).filter((d): d is string => !!d)[0];
  const ends = stays.map((s) => s.discharged).filter((d): d is string => !!d).sort();
  const discharged = stays.some((s) => s.open) ? undefined : ends.at(-1);
  const age = patient ? ageOf(patient, opts.at, opts.timeZone) : undefined;
  const id = residentIdNumber(patient?.identifier);
  const block: PatientBlock = {
    name: printedName(patient),
    ...(patient?.gender ? { gender: GENDER[patient.gender] } : {}),
    ...(age ? { age } : {}),
    recordNumber: recordNumber(patient, patientId, opts.recordNumberSystems),
    departments: [...new Set(stays.map((s) => s.department).filter((d): d is string => !!d))],
    ...(admitted ? { admitted } : {}),
    ...(discharged ? { discharged } : {}),
    ...(id ? { idNumber: maskIdNumber(id) } : {}),
  };
  return { block, stays: stays.map(({ open: _open, ...stay }) => stay) };
}

/** The patient block of a paper holding the visits `encounterIds` (those of another patient are ignored, unread). */
export async function patientBlock(
  index: PatientRecordIndex,
  patientId: string,
  encounterIds: readonly string[],
  opts: { at: Date; timeZone: string; recordNumberSystems: readonly string[] },
): Promise<PatientBlock> {
  return (await patientOnPaper(index, patientId, encounterIds, opts)).block;
}

/** What a field prints when the record does not say. */
export const NOT_RECORDED = '—';

/**
 * The block as printed at the head of a paper: `姓名 性别 年龄 病案号` on one line, `科室 入院日期
 * 出院日期` on the next, then the masked ID number when the record holds one. A field the record
 * does not give is printed with its label and `—`, so a reader sees it is missing, not forgotten.
 */
export function patientBlockSection(block: PatientBlock): PdfSection {
  const field = (label: string, value: string | undefined) => `${label} ${value || NOT_RECORDED}`;
  return {
    heading: '患者信息 Patient',
    lines: [
      [field('姓名', block.name), field('性别', block.gender), field('年龄', block.age), field(block.recordNumber.label, block.recordNumber.value)].join('　　'),
      [field('科室', block.departments.join('、')), field('入院日期', block.admitted), field('出院日期', block.discharged)].join('　　'),
      ...(block.idNumber ? [field('身份证号', block.idNumber)] : []),
    ],
  };
}

const GENDER: Readonly<Record<string, string>> = { male: '男', female: '女', other: '其他', unknown: '未知' };
/** The identifier type of a medical-record number (HL7 v2 table 0203). */
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/**
 * The 病案号: the value of the first policy system (`settings.medicalRecordNumberSystems`, in
 * order) the patient has an identifier in, else of an identifier of type MR (v2-0203), else the
 * record's id labelled 患者ID. Identifiers marked `old` are no longer the patient's number.
 */
export function recordNumber(patient: Patient | undefined, id: string, systems: readonly string[]): PatientBlock['recordNumber'] {
  const current = (patient?.identifier ?? []).filter((i) => i.value && i.use !== 'old');
  for (const system of systems) {
    const found = current.find((i) => i.system === system);
    if (found?.value) return { label: '病案号', value: found.value };
  }
  const mr = current.find((i) => hasType(i, ['MR']));
  return mr?.value ? { label: '病案号', value: mr.value } : { label: '患者ID', value: id };
}

/** The names of the departments (serviceProvider Organizations) of `encounters`, by Organization id. */
async function departmentNames(index: PatientRecordIndex, encounters: readonly Encounter[]): Promise<Map<string, string>> {
  const ids = [...new Set(encounters.map((e) => parseReference(e.serviceProvider?.reference)).filter((r) => r?.type === 'Organization').map((r) => r?.id as string))];
  if (ids.length === 0) return new Map();
  const found = await index.readMany(ids.map((id) => ({ type: 'Organization', id })));
  return new Map(found.map((f) => f.resource as Organization).filter((o) => o.name).map((o) => [o.id as string, o.name as string]));
}

/** A visit not yet over: in progress, on leave, or begun with no end. */
function isOpen(e: Encounter): boolean {
  if (['planned', 'arrived', 'triaged', 'in-progress', 'onleave'].includes(e.status)) return true;
  return !!e.period?.start && !e.period.end && e.status !== 'finished' && e.status !== 'cancelled' && e.status !== 'entered-in-error';
}

/**
 * Age as a Chinese hospital writes it, at `at` (or at death, when earlier) in `timeZone`:
 * whole years (`67岁`) from one year, else whole months (`3月`), else days (`12天`). A birth date
 * given as a year or a month only prints the range it allows when it spans two ages (`66~67岁`).
 * Undefined without a birth date, or when it is after the day of reckoning.
 */
export function ageOf(patient: Pick<Patient, 'birthDate' | 'deceasedDateTime'>, at: Date, timeZone: string): string | undefined {
  const birth = patient.birthDate;
  if (!birth || !/^\d{4}(-\d{2}(-\d{2})?)?$/.test(birth)) return undefined;
  const death = patient.deceasedDateTime ? Date.parse(patient.deceasedDateTime) : NaN;
  const when = !Number.isNaN(death) && death < at.getTime() ? new Date(death) : at;
  const today = hospitalDay(when.toISOString(), timeZone);
  if (!today) return undefined;
  // The earliest and the latest day the birth date allows (a year: 1 Jan to 31 Dec; a month: its first to its last day).
  const [y, m, d] = birth.split('-');
  const earliest = `${y}-${m ?? '01'}-${d ?? '01'}`;
  const latest = d ? birth : m ? lastDayOfMonth(y, m) : `${y}-12-31`;
  const oldest = ageText(earliest, today);
  const youngest = ageText(latest, today);
  if (!oldest || !youngest) return oldest ?? youngest;
  if (oldest === youngest) return oldest;
  // Two readings of a partial date: print the range when both are in years, else the younger.
  return oldest.endsWith('岁') && youngest.endsWith('岁') ? `${youngest.slice(0, -1)}~${oldest}` : youngest;
}

function ageText(birth: string, today: string): string | undefined {
  if (birth > today) return undefined;
  const [by, bm, bd] = birth.split('-').map(Number);
  const [ty, tm, td] = today.split('-').map(Number);
  const months = (ty - by) * 12 + (tm - bm) - (td < bd ? 1 : 0);
  if (months >= 12) return `${Math.floor(months / 12)}岁`;
  if (months >= 1) return `${months}月`;
  return `${Math.round((Date.parse(`${today}T00:00:00Z`) - Date.parse(`${birth}T00:00:00Z`)) / 86_400_000)}天`;
}

function lastDayOfMonth(year: string, month: string): string {
  const days = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  return `${year}-${month}-${String(days).padStart(2, '0')}`;
}

/** The resident ID number (居民身份证号) among the identifiers: typed as a national ID (v2-0203 NNCHN/NI), or a valid 18-character number. */
function residentIdNumber(identifiers: readonly Identifier[] | undefined): string | undefined {
  const current = (identifiers ?? []).filter((i) => i.value && i.use !== 'old');
  return (current.find((i) => hasType(i, ['NNCHN', 'NI'])) ?? current.find((i) => isResidentIdNumber(i.value as string)))?.value;
}

/** A Chinese resident ID number (GB 11643): 17 digits and an ISO 7064 MOD 11-2 check character. */
export function isResidentIdNumber(value: string): boolean {
  if (!/^\d{17}[\dXx]$/.test(value)) return false;
  const sum = [...value.slice(0, 17)].reduce((s, c, i) => s + Number(c) * ((2 ** (17 - i)) % 11), 0);
  return '10X98765432'[sum % 11] === value[17].toUpperCase();
}

function hasType(i: Identifier, codes: readonly string[]): boolean {
  return (i.type?.coding ?? []).some((c) => c.system === V2_0203 && codes.includes(c.code ?? ''));
}

import type { Organization, Patient, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { DEMO_DEPARTMENTS, DEMO_USERS } from './demo-users.js';
import type { DemoTimeline } from './demo-timeline.js';

/**
 * Who is in the demo hospital (issue #18): the hospital and its two departments, its staff as
 * Practitioners, and six patients with the identifiers a Chinese HIS sends. Every number here is
 * made up: resident ID numbers are well formed (region, birth date, sequence, ISO 7064 check
 * digit) but belong to nobody.
 */

/** Identifier systems the demo HIS uses. */
export const DEMO_SYSTEMS = {
  /** 居民身份证号 (national resident ID card). */
  residentId: 'urn:oid:2.16.156.10011.1.3',
  /** 病案号, the hospital's medical-record number (typed MR, so papers find it whatever the policy names). */
  recordNumber: 'urn:oid:2.16.156.10011.1.13',
  /** 工号, the staff number. */
  staffNumber: 'https://chartwarden.dev/fhir/demo/staff-number',
  /** The hospital Organization's identifier saying a demo seed wrote this database: `seeding`, then `complete`. */
  demoSeed: 'https://chartwarden.dev/fhir/demo/seed',
} as const;

/** The hospital Organization: the marker a second `demo seed` finds (its `demoSeed` identifier `complete` once the seed finished). */
export const DEMO_HOSPITAL_ID = 'demo-hospital';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** A made-up person outside the hospital (a patient's relative, an officer, a claims handler) as the desk identifies them. */
export interface DemoPerson {
  name: string;
  idNumber: string;
}

/** A demo patient: who they are, and the people who come to the desk for them. */
export interface DemoPatient {
  key: PatientKey;
  name: string;
  gender: 'male' | 'female';
  birthDate: string;
  idNumber: string;
  recordNumber: string;
  phone: string;
  address: string;
}

export type PatientKey = 'zhang-wei' | 'li-xiuying' | 'wang-qiang' | 'liu-yang' | 'zhao-li' | 'huang-lei';

/**
 * A well-formed 18-digit resident ID number (GB 11643): region, birth date, a sequence whose
 * last digit is odd for men and even for women, and the ISO 7064 MOD 11-2 check character.
 */
export function residentIdNumber(region: string, birthDate: string, sequence: number, gender: 'male' | 'female'): string {
  const seq = sequence - (sequence % 2) + (gender === 'male' ? 1 : 0);
  const body = `${region}${birthDate.replaceAll('-', '')}${String(seq % 1000).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, c, i) => s + Number(c) * weights[i], 0);
  return body + '10X98765432'[sum % 11];
}

/** The six patients, their ages and birthdays fixed, their birth years from the seed's day. */
export function demoPatients(t: DemoTimeline): DemoPatient[] {
  const person = (key: PatientKey, name: string, gender: 'male' | 'female', age: number, md: [number, number], region: string, seq: number, n: number, phone: string, address: string) => {
    const birthDate = t.born(age, md[0], md[1]);
    return { key, name, gender, birthDate, idNumber: residentIdNumber(region, birthDate, seq, gender), recordNumber: `00${n}`, phone, address };
  };
  return [
    person('zhang-wei', '张伟', 'male', 63, [3, 14], '110105', 217, 316_452, '13911062347', '北京市朝阳区安贞西里三区12号楼'),
    person('li-xiuying', '李秀英', 'female', 71, [9, 2], '110102', 84, 298_117, '13701013385', '北京市西城区新街口外大街28号院'),
    person('wang-qiang', '王强', 'male', 48, [11, 23], '110108', 135, 317_006, '13522874410', '北京市海淀区学院路30号'),
    person('liu-yang', '刘洋', 'male', 26, [6, 8], '130102', 51, 316_980, '18633129057', '河北省石家庄市长安区中山东路106号'),
    person('zhao-li', '赵丽', 'female', 41, [1, 27], '110106', 322, 316_771, '13801176624', '北京市丰台区方庄芳古园一区9号楼'),
    person('huang-lei', '黄磊', 'male', 35, [4, 30], '110114', 97, 317_240, '15810934418', '北京市昌平区回龙观西大街18号'),
  ];
}

/** People who come to the desk or the table for a patient: relatives, agents, officers. */
export function demoVisitors(t: DemoTimeline): Record<'liJun' | 'linNa' | 'officerGao' | 'adjusterXu', DemoPerson> {
  const id = (region: string, age: number, md: [number, number], seq: number, gender: 'male' | 'female') => residentIdNumber(region, t.born(age, md[0], md[1]), seq, gender);
  return {
    /** 李秀英's son, her agent. */
    liJun: { name: '李军', idNumber: id('110102', 44, [5, 19], 63, 'male') },
    /** 黄磊's wife. */
    linNa: { name: '林娜', idNumber: id('110114', 33, [8, 11], 140, 'female') },
    /** A social insurance officer (医保中心稽核). */
    officerGao: { name: '高建华', idNumber: id('110101', 39, [2, 6], 210, 'male') },
    /** A commercial insurer's claims handler. */
    adjusterXu: { name: '徐婷', idNumber: id('110105', 30, [12, 1], 76, 'female') },
  };
}

/** A patient as the HIS registers them: 病案号 (typed MR) and 居民身份证号, name in Han order, gender, birth date. */
export function patientResource(p: DemoPatient): Patient {
  return {
    resourceType: 'Patient',
    identifier: [
      { use: 'usual', type: { coding: [{ system: V2_0203, code: 'MR' }], text: '病案号' }, system: DEMO_SYSTEMS.recordNumber, value: p.recordNumber },
      { use: 'official', type: { coding: [{ system: V2_0203, code: 'NNCHN' }], text: '居民身份证' }, system: DEMO_SYSTEMS.residentId, value: p.idNumber },
    ],
    active: true,
    name: [hanName(p.name)],
    gender: p.gender,
    birthDate: p.birthDate,
    telecom: [{ system: 'phone', value: p.phone, use: 'mobile' }],
    address: [{ text: p.address, country: 'CN' }],
  };
}

/** The hospital (marked as the demo's, `seeding` until the seed finishes) and its departments, part of it. */
export function organizations(hospitalName: string, status: 'seeding' | 'complete'): Organization[] {
  const hospital: Organization = {
    resourceType: 'Organization',
    id: DEMO_HOSPITAL_ID,
    identifier: [{ system: DEMO_SYSTEMS.demoSeed, value: status }],
    active: true,
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov' }], text: '医院' }],
    name: hospitalName,
  };
  const departments = DEMO_DEPARTMENTS.map(
    (d): Organization => ({
      resourceType: 'Organization',
      id: d.id,
      active: true,
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'dept' }], text: '临床科室' }],
      name: d.name,
      partOf: { reference: `Organization/${DEMO_HOSPITAL_ID}` },
    }),
  );
  return [hospital, ...departments];
}

/** Every demo user as a Practitioner (id = token subject), clinicians with their role in their department. */
export function staff(): (Practitioner | PractitionerRole)[] {
  return DEMO_USERS.flatMap((u, i) => {
    const practitioner: Practitioner = {
      resourceType: 'Practitioner',
      id: u.id,
      identifier: [{ system: DEMO_SYSTEMS.staffNumber, value: `D${String(1021 + i * 37).padStart(5, '0')}` }],
      active: true,
      name: [hanName(u.name)],
      ...(u.licence ? { qualification: [{ code: { text: '医师执业证书' } }] } : u.roles.includes('nurse') ? { qualification: [{ code: { text: '护士执业证书' } }] } : {}),
    };
    if (!u.department) return [practitioner];
    const role: PractitionerRole = {
      resourceType: 'PractitionerRole',
      id: `${u.id}-role`,
      active: true,
      practitioner: { reference: `Practitioner/${u.id}`, display: u.name },
      organization: { reference: `Organization/${u.department}` },
      code: [{ text: u.title }],
    };
    return [practitioner, role];
  });
}

/** A Han name as FHIR HumanName: the whole as written, family name (one character) first. */
function hanName(name: string): { use: 'official'; text: string; family: string; given: string[] } {
  return { use: 'official', text: name, family: name.slice(0, 1), given: [name.slice(1)] };
}

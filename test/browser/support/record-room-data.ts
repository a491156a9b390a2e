import { randomInt } from 'node:crypto';
import type { Composition, Encounter, Patient } from '@medplum/fhirtypes';
import type { Page } from 'playwright-core';
import { DEMO_USERS } from '../../../src/demo/demo-users.js';
import { httpRequest, seedAs } from '../../support/http.js';
import type { TestServer } from '../../support/test-app.js';

const LOINC = 'http://loinc.org';
/** The smallest PNG: a 1×1 picture. */
export const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

/**
 * A photo of an ID card as the tablet's camera would take it: a specimen card drawn by the
 * browser on a canvas (a real PNG, as the server checks by its bytes), for the thumbnails.
 */
export async function idCardPhoto(page: Page, name: string, idNumber: string): Promise<Buffer> {
  const dataUrl = (await page.evaluate(`(() => {
    const c = document.createElement('canvas');
    c.width = 428; c.height = 270;
    const g = c.getContext('2d');
    g.fillStyle = '#dbe8f5'; g.fillRect(0, 0, 428, 270);
    g.strokeStyle = '#7a9cc6'; g.lineWidth = 4; g.strokeRect(2, 2, 424, 266);
    g.fillStyle = '#1d3557'; g.font = 'bold 26px "Noto Sans CJK SC", sans-serif'; g.fillText('居民身份证（样本）', 24, 48);
    g.font = '22px "Noto Sans CJK SC", sans-serif';
    g.fillText('姓名  ' + ${JSON.stringify(name)}, 24, 110);
    g.fillText('性别  男    民族  汉', 24, 150);
    g.fillText('公民身份号码  ' + ${JSON.stringify(idNumber)}, 24, 230);
    g.fillStyle = '#b8c9dd'; g.fillRect(300, 70, 100, 120);
    return c.toDataURL('image/png');
  })()`)) as string;
  return Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64');
}
export const ID_NUMBER = '110101198801015678';

/** A name no other suite writes, so the clerk's search by name finds this patient. */
function uniqueName(): string {
  const chars = '晓明华丽强伟芳静磊洋敏杰娟涛霞婷';
  return `王${chars[randomInt(chars.length)]}${chars[randomInt(chars.length)]}${chars[randomInt(chars.length)]}`;
}

/**
 * What the record room copies, seeded by the HIS: a patient, an inpatient stay (of `department` when given), the admission and discharge records signed, the
 * operation record still a draft (so a copy leaves a part pending, R-32). `recordNumber` is the patient's 病案号; `documents` are the
 * records' ids, in that order.
 */
export async function seedInpatientStay(
  server: TestServer,
  doctor: string,
  options: { department?: string } = {},
): Promise<{ patient: Patient & { id: string }; name: string; recordNumber: string; encounter: string; documents: string[] }> {
  const his = await server.token();
  const seed = <T extends { resourceType: string }>(r: T) => seedAs(server.fhirBase, his, r as never) as Promise<T & { id: string }>;
  const name = uniqueName();
  // The 病案号, an identifier of type MR (v2-0203) in the hospital's own system, as desk staff know the patient.
  const recordNumber = `MR${randomInt(10_000_000, 99_999_999)}`;
  const patient = await seed<Patient>({
    resourceType: 'Patient',
    identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: 'urn:chartwarden-test:mrn', value: recordNumber }],
    name: [{ text: name, family: name.slice(0, 1), given: [name.slice(1)] }],
    gender: 'male',
    birthDate: '1988-01-01',
  });
  const encounter = await seed<Encounter>({
    resourceType: 'Encounter',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP', display: '住院' },
    subject: { reference: `Patient/${patient.id}` },
    period: { start: new Date(Date.now() - 5 * 86_400_000).toISOString(), end: new Date(Date.now() - 86_400_000).toISOString() },
    participant: [{ individual: { reference: doctor } }],
    ...(options.department ? { serviceProvider: { reference: `Organization/${options.department}` } } : {}),
  });
  const doc = (code: string, title: string, status: Composition['status']): Composition => ({
    resourceType: 'Composition',
    status,
    type: { coding: [{ system: LOINC, code }] },
    subject: { reference: `Patient/${patient.id}` },
    encounter: { reference: `Encounter/${encounter.id}` },
    date: new Date().toISOString(),
    author: [{ reference: doctor }],
    ...(status === 'final' ? { attester: [{ mode: 'legal' as const, time: new Date().toISOString(), party: { reference: doctor } }] } : {}),
    title,
    section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}：${name}，男，38岁。</div>` } }],
  });
  const documents = [await seed(doc('34117-2', '入院记录', 'final')), await seed(doc('18842-5', '出院记录', 'final')), await seed(doc('11504-8', '手术记录', 'preliminary'))];
  return { patient, name, recordNumber, encounter: encounter.id, documents: documents.map((d) => d.id) };
}

/** The demo users as the HIS files them (`Practitioner/<id>`, named), so pages can show who took each step by name. */
export async function seedStaff(server: TestServer, ids: readonly string[]): Promise<void> {
  const his = await server.token();
  for (const user of DEMO_USERS.filter((u) => ids.includes(u.id))) {
    const res = await httpRequest(`${server.fhirBase}/Practitioner/${user.id}`, 'PUT', { token: his, body: { resourceType: 'Practitioner', id: user.id, name: [{ text: user.name }] } });
    if (res.status !== 200 && res.status !== 201) throw new Error(`seeding Practitioner/${user.id}: ${res.status} ${res.text}`);
  }
}

import type { Basic, Composition, DocumentReference, Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { withStoredText } from '../common/fhir-json-text.js';
import type { Paper } from './paper.js';
import { concept, quantity, resourceSection } from './resource-text.js';
import { decodeEntities, xhtmlText } from './xhtml-text.js';

/** The hospital's zone; one practitioner the store knows by name. */
const paper: Paper = { timeZone: 'Asia/Shanghai', names: new Map([['Practitioner/p2', '钱建国']]) };

const base64 = (text: string, encoding: BufferEncoding = 'utf8') => Buffer.from(text, encoding).toString('base64');

describe('resourceSection (R-31 certified copy text)', () => {
  it('R-31: a Composition prints its version, title, authors by name, times in the hospital\'s zone and each section narrative as plain text', () => {
    const composition: Composition = {
      resourceType: 'Composition',
      id: 'c1',
      meta: { versionId: '3', lastUpdated: '2026-11-28T01:00:00Z' },
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '34117-2', display: 'History and physical note' }] },
      date: '2026-11-28T09:00:00+08:00',
      title: '入院记录',
      author: [{ reference: 'Practitioner/p1', display: '赵医生' }, { reference: 'Practitioner/p2' }, { reference: 'Practitioner/p3' }],
      attester: [{ mode: 'legal', time: '2026-11-28T02:30:00Z', party: { reference: 'Practitioner/p2' } }],
      section: [
        {
          title: '主诉',
          text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">\n  <p>胸闷&nbsp;气短 &lt;3年&gt;</p><p>加重&amp;伴&#x547C;&#21560;困难</p>\n</div>' },
          section: [{ title: '现病史', text: { status: 'generated', div: '<div>第一行<br/>第二行</div>' } }],
        },
      ],
    };
    expect(resourceSection(composition, paper)).toEqual({
      heading: 'Composition/c1 v3 · 入院记录',
      lines: [
        '类型 type: History and physical note',
        '标题 title: 入院记录',
        '日期 date: 2026-11-28 09:00',
        '状态 status: final',
        // As written, else the store's name, else the reference: never nothing.
        '作者 author: 赵医生; 钱建国; Practitioner/p3',
        '签署 attester: 法定签名 钱建国 2026-11-28 10:30',
        '【主诉】',
        '胸闷 气短 <3年>',
        '加重&伴呼吸困难',
        '【现病史】',
        '第一行',
        '第二行',
        '更新时间 lastUpdated: 2026-11-28 09:00',
      ],
    });
  });

  it('XHTML: tags stripped, source whitespace collapsed, lines kept for br/p/div/li/tr, cells joined, entities decoded once', () => {
    const div = `<div><h3>检验</h3><table><tr><th>项目</th><th>结果</th></tr>
      <tr><td>血糖</td><td>7.2 <b>mmol/L</b></td></tr></table>
      <ul><li>一</li><li>二 &amp;amp; 三</li></ul><!-- 注释 --><span>甲</span> <span>乙</span></div>`;
    expect(xhtmlText(div)).toEqual(['检验', '项目 | 结果', '血糖 | 7.2 mmol/L', '- 一', '- 二 &amp; 三', '甲 乙']);
    expect(decodeEntities('&lt;b&gt; &#39;x&#39; &#x1F600; &unknown; &#99999999;')).toBe("<b> 'x' 😀 &unknown; &#99999999;");
  });

  it('DocumentReference: a text attachment is decoded and printed (in its charset); others are listed', () => {
    const doc: DocumentReference = {
      resourceType: 'DocumentReference',
      id: 'd1',
      meta: { versionId: '1' },
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '18842-5' }] },
      date: '2026-11-29T08:00:00Z',
      description: '出院小结',
      content: [
        { attachment: { contentType: 'text/plain; charset=utf-8', title: '小结', data: base64('出院诊断：冠心病\r\n出院医嘱：低盐饮食') } },
        { attachment: { contentType: 'text/plain; charset=GBK', data: Buffer.from([0xcd, 0xf5, 0xd0, 0xa1, 0xc3, 0xf7]).toString('base64') } },
        { attachment: { contentType: 'application/pdf', title: '扫描件', size: 20480, url: 'Binary/b1' } },
      ],
    };
    expect(resourceSection(doc, paper)).toEqual({
      heading: 'DocumentReference/d1 v1 · 出院小结',
      lines: [
        '类型 type: http://loinc.org|18842-5',
        '描述 description: 出院小结',
        '日期 date: 2026-11-29 16:00',
        '状态 status: current',
        '文档状态 docStatus: final',
        '附件 attachment: 小结 · text/plain; charset=utf-8',
        '出院诊断：冠心病',
        '出院医嘱：低盐饮食',
        '附件 attachment: text/plain; charset=GBK',
        '王小明',
        '附件 attachment: 扫描件 · application/pdf · 20480 字节 bytes · Binary/b1',
      ],
    });
  });

  it('Observation: a quantity prints with its unit; components and effective time follow', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'o1',
      meta: { versionId: '2' },
      status: 'final',
      code: { text: '空腹血糖' },
      valueQuantity: { value: 7.2, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      referenceRange: [{ low: { value: 3.9, unit: 'mmol/L' }, high: { value: 6.1, unit: 'mmol/L' } }],
      effectiveDateTime: '2026-11-29T07:30:00+08:00',
      component: [{ code: { coding: [{ code: '8480-6', display: '收缩压' }] }, valueQuantity: { value: 120, code: 'mm[Hg]' } }],
    };
    expect(resourceSection(obs, paper)).toEqual({
      heading: 'Observation/o1 v2 · 空腹血糖',
      lines: [
        '项目 code: 空腹血糖',
        '结果 value: 7.2 mmol/L',
        '参考范围 referenceRange: 3.9 mmol/L – 6.1 mmol/L',
        '时间 effective: 2026-11-29 07:30',
        '状态 status: final',
        '  收缩压: 120 mm[Hg]',
      ],
    });
    expect(quantity({ value: 5.6, comparator: '<', unit: 'mmol/L' })).toBe('<5.6 mmol/L');
    expect(quantity({ value: 3 })).toBe('3');
    expect(quantity({ unit: 'mg' })).toBeUndefined();
  });

  it('CodeableConcept: text, else the first coding display, else system|code', () => {
    expect(concept({ text: '高血压', coding: [{ display: 'Hypertension' }] })).toBe('高血压');
    expect(concept({ coding: [{ code: 'I10', system: 'http://hl7.org/fhir/sid/icd-10' }, { display: 'Hypertension' }] })).toBe('Hypertension');
    expect(concept({ coding: [{ code: 'I10', system: 'http://hl7.org/fhir/sid/icd-10' }] })).toBe('http://hl7.org/fhir/sid/icd-10|I10');
    expect(concept({})).toBeUndefined();
  });

  it('Patient and Encounter: a Chinese name is family then given, unspaced; class and period print', () => {
    const patient: Patient = { resourceType: 'Patient', id: 'p1', meta: { versionId: '1' }, name: [{ family: '王', given: ['小明'] }], gender: 'male', birthDate: '1981-05-02' };
    expect(resourceSection(patient, paper)).toEqual({
      heading: 'Patient/p1 v1 · 王小明',
      lines: ['姓名 name: 王小明', '性别 gender: male', '出生日期 birthDate: 1981-05-02'],
    });
    expect(resourceSection({ resourceType: 'Patient', id: 'p2', name: [{ family: 'Smith', given: ['John', 'Q'] }] }, paper).heading).toBe('Patient/p2 · John Q Smith');
    const encounter: Encounter = {
      resourceType: 'Encounter',
      id: 'e1',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP', display: 'inpatient encounter' },
      type: [{ text: '住院' }],
      period: { start: '2026-11-20', end: '2026-11-28' },
    };
    expect(resourceSection(encounter, paper).lines).toEqual(['类别 class: inpatient encounter', '类型 type: 住院', '时间 period: 2026-11-20 – 2026-11-28', '状态 status: finished']);
  });

  it('any other type: its narrative when it has one, else its JSON (without meta) in short lines', () => {
    const narrated: Basic = { resourceType: 'Basic', id: 'b1', code: { text: 'x' }, text: { status: 'generated', div: '<div><p>一</p><p>二</p></div>' } };
    expect(resourceSection(narrated, paper)).toEqual({ heading: 'Basic/b1', lines: ['一', '二'] });

    const bare: Resource = { resourceType: 'Basic', id: 'b2', meta: { versionId: '4' }, code: { text: '长'.repeat(150) } };
    const section = resourceSection(bare, paper);
    expect(section.heading).toBe('Basic/b2 v4');
    expect(section.lines.length).toBeGreaterThan(1);
    expect(section.lines.every((l) => Array.from(l).length <= 96)).toBe(true);
    expect(JSON.parse(section.lines.join(''))).toEqual({ resourceType: 'Basic', id: 'b2', code: { text: '长'.repeat(150) } });
  });

  it('R-31: the same record printed for a hospital in another zone reads its wall clock; a date without a time is printed as sent', () => {
    const obs: Observation = { resourceType: 'Observation', id: 'o2', status: 'final', code: { text: '体温' }, effectiveDateTime: '2026-03-01T00:29:15Z', note: [{ time: '2026-07-01T12:00:00Z', text: '复测' }] };
    expect(resourceSection(obs, { timeZone: 'Europe/Berlin', names: new Map() }).lines).toEqual(['项目 code: 体温', '时间 effective: 2026-03-01 01:29', '状态 status: final', '备注 note: 2026-07-01 14:00 复测']);
    expect(resourceSection(obs, paper).lines).toContain('时间 effective: 2026-03-01 08:29');
    expect(resourceSection({ ...obs, effectiveDateTime: '2026-03' }, paper).lines).toContain('时间 effective: 2026-03');
  });

  it('R-31 (decision 0014): numbers print as the sender wrote them; a contained performer prints by its name', () => {
    const text = '{"resourceType":"Observation","id":"g","meta":{"versionId":"1"},"status":"final","contained":[{"resourceType":"Practitioner","id":"nurse","name":[{"text":"李护士"}]}],"code":{"text":"血糖"},"performer":[{"reference":"#nurse"}],"valueQuantity":{"value":1.50,"unit":"mmol/L"},"referenceRange":[{"low":{"value":3.90},"high":{"value":6.10}}],"component":[{"code":{"text":"一"},"valueQuantity":{"value":1.0}},{"code":{"text":"二"},"valueRatio":{"numerator":{"value":2.50},"denominator":{"value":1.0}}}]}';
    const lines = resourceSection(withStoredText(JSON.parse(text) as Observation, text), paper).lines;
    expect(lines).toEqual(['项目 code: 血糖', '结果 value: 1.50 mmol/L', '参考范围 referenceRange: 3.90 – 6.10', '执行者 performer: 李护士', '状态 status: final', '  一: 1.0', '  二: 2.50 / 1.0']);
  });
});

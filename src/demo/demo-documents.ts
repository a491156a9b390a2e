import type { Composition, DocumentReference } from '@medplum/fhirtypes';
import type { StayKey, When } from './demo-stays.js';
import type { DemoTimeline } from './demo-timeline.js';
import { demoUser } from './demo-users.js';

/**
 * The clinical documents of the demo stays (issue #18), written by their doctors and signed by
 * them, one left unsigned in each of two stays (a draft progress note, an operation
 * record waiting for its signature: R-32 copies it later, R-41 seals it when completed).
 * Document types are the shipped LOINC codes, or ChartWarden's own for types LOINC lacks.
 */

const LOINC = 'http://loinc.org';
const DOCUMENT_TYPE = 'https://chartwarden.dev/fhir/CodeSystem/document-type';

/** How each document type is coded (fhir-profiles/chartwarden-document-type-map.json). */
const TYPE_CODING: Record<DocumentType, { system: string; code: string }> = {
  'admission-record': { system: LOINC, code: '34117-2' },
  'first-progress-note': { system: DOCUMENT_TYPE, code: 'first-progress-note' },
  'daily-progress-note': { system: LOINC, code: '11506-3' },
  'senior-rounds': { system: DOCUMENT_TYPE, code: 'senior-rounds' },
  'operation-record': { system: LOINC, code: '11504-8' },
  'consent-form': { system: LOINC, code: '59284-0' },
  'discharge-record': { system: LOINC, code: '18842-5' },
  'outpatient-record': { system: LOINC, code: '34108-1' },
  'rescue-record': { system: DOCUMENT_TYPE, code: 'rescue-record' },
};

type DocumentType =
  | 'admission-record'
  | 'first-progress-note'
  | 'daily-progress-note'
  | 'senior-rounds'
  | 'operation-record'
  | 'consent-form'
  | 'discharge-record'
  | 'outpatient-record'
  | 'rescue-record';

/** One document: its stay, type and title, its author (a demo user), when it was written, its sections, and whether the author signs it. */
export interface DemoDocument {
  stay: StayKey;
  type: DocumentType;
  title: string;
  author: string;
  at: When;
  sections: [title: string, text: string][];
  signed: boolean;
}

export const DEMO_DOCUMENTS: readonly DemoDocument[] = [
  // 张伟: emergency PCI for an anterior STEMI, discharged.
  { stay: 'zhang-wei-stemi', type: 'consent-form', title: '经皮冠状动脉介入治疗知情同意书', author: 'dr-wang', at: [11, 3, 40], signed: true, sections: [
    ['拟行手术', '急诊冠状动脉造影及经皮冠状动脉介入治疗（必要时支架植入）。'],
    ['风险告知', '已向患者及其妻子告知术中可能出现冠脉夹层、无复流、恶性心律失常、穿刺部位出血等风险，患方表示理解并签字同意。'],
  ] },
  { stay: 'zhang-wei-stemi', type: 'operation-record', title: '经皮冠状动脉介入治疗记录', author: 'dr-wang', at: [11, 5, 30], signed: true, sections: [
    ['手术经过', '经右桡动脉入路，造影示前降支近段完全闭塞，TIMI 0级；球囊预扩后植入药物洗脱支架1枚（3.0×24mm），复查造影TIMI 3级血流，无残余狭窄。'],
    ['术后处理', '桡动脉压迫止血，返回CCU监护，继续双联抗血小板及抗凝治疗。'],
  ] },
  { stay: 'zhang-wei-stemi', type: 'admission-record', title: '入院记录', author: 'dr-li', at: [11, 9, 0], signed: true, sections: [
    ['主诉', '持续性胸骨后压榨样疼痛3小时。'],
    ['现病史', '患者于入院前3小时静息时突发胸骨后压榨样疼痛，向左肩放射，伴大汗，含服硝酸甘油不缓解，急诊心电图示V1-V4导联ST段抬高。'],
    ['既往史', '吸烟30年，每日约20支；血脂异常未规律治疗。'],
    ['初步诊断', '急性前壁ST段抬高型心肌梗死，Killip I级。'],
  ] },
  { stay: 'zhang-wei-stemi', type: 'first-progress-note', title: '首次病程记录', author: 'dr-li', at: [11, 8, 0], signed: true, sections: [
    ['病例特点', '63岁男性，急性起病，典型缺血性胸痛，心电图前壁导联ST段抬高，肌钙蛋白I 12.6 ng/mL。'],
    ['诊疗计划', '已行急诊PCI开通前降支；术后CCU监护，阿司匹林、氯吡格雷、阿托伐他汀及美托洛尔治疗，复查心肌酶及心脏超声。'],
  ] },
  { stay: 'zhang-wei-stemi', type: 'senior-rounds', title: '上级医师查房记录', author: 'dr-wang', at: [10, 9, 30], signed: true, sections: [
    ['查房意见', '王建国主治医师查房：患者术后胸痛消失，昨日午后低热38.1℃，考虑心肌坏死吸收热，暂不使用抗生素；超声示前壁节段性运动减弱，EF 48%。'],
  ] },
  { stay: 'zhang-wei-stemi', type: 'daily-progress-note', title: '日常病程记录', author: 'dr-li', at: [8, 10, 0], signed: true, sections: [
    ['病情记录', '患者无胸闷胸痛，体温恢复正常，已转入普通病房并床旁活动；复查肌钙蛋白I 3.41 ng/mL，呈下降趋势。'],
  ] },
  { stay: 'zhang-wei-stemi', type: 'discharge-record', title: '出院记录', author: 'dr-wang', at: [4, 9, 30], signed: true, sections: [
    ['入院情况', '因持续胸痛3小时入院，诊断急性前壁ST段抬高型心肌梗死，当日行急诊PCI。'],
    ['出院诊断', '急性前壁ST段抬高型心肌梗死（PCI术后）；血脂异常。'],
    ['出院医嘱', '戒烟；坚持双联抗血小板治疗12个月，阿托伐他汀20mg每晚；1个月后心内科门诊复查血脂、肝功能。'],
  ] },
  // 李秀英: heart failure, still on the ward; today's note not yet signed.
  { stay: 'li-xiuying-hf', type: 'admission-record', title: '入院记录', author: 'dr-li', at: [3, 17, 30], signed: true, sections: [
    ['主诉', '活动后气短2年，加重伴双下肢水肿1周。'],
    ['现病史', '近1周受凉后气短明显，夜间不能平卧，双下肢凹陷性水肿；院外自行停用利尿剂。'],
    ['初步诊断', '慢性心力衰竭急性加重，NYHA III级；高血压3级（很高危）。'],
  ] },
  { stay: 'li-xiuying-hf', type: 'first-progress-note', title: '首次病程记录', author: 'dr-li', at: [3, 19, 0], signed: true, sections: [
    ['诊疗计划', '低盐饮食，限制入量，呋塞米静脉利尿，螺内酯；监测电解质及肾功能，NT-proBNP 4860 pg/mL，择期复查心脏超声。'],
  ] },
  { stay: 'li-xiuying-hf', type: 'daily-progress-note', title: '日常病程记录', author: 'dr-li', at: [1, 10, 0], signed: false, sections: [
    ['病情记录', '患者气短较前减轻，可半卧位入睡，24小时尿量约2100ml，双下肢水肿减轻；血钾3.4 mmol/L，予口服补钾。'],
  ] },
  // 王强: an outpatient visit.
  { stay: 'wang-qiang-clinic', type: 'outpatient-record', title: '门诊病历', author: 'dr-wang', at: [6, 10, 0], signed: true, sections: [
    ['主诉', '发现血压升高半年，头晕1周。'],
    ['查体', '血压156/98mmHg，心率78次/分，律齐，各瓣膜听诊区未闻及杂音。'],
    ['诊断', '原发性高血压2级。'],
    ['处理', '苯磺酸氨氯地平片5mg每日一次；低盐饮食、规律运动；行24小时动态血压监测，2周后复诊。'],
  ] },
  // 刘洋: appendicectomy, discharged; the patient disputes the wound infection (sealed case).
  { stay: 'liu-yang-appendix', type: 'admission-record', title: '入院记录', author: 'dr-ma', at: [10, 18, 0], signed: true, sections: [
    ['主诉', '转移性右下腹痛12小时。'],
    ['体格检查', '体温38.5℃，右下腹麦氏点压痛、反跳痛阳性，腰大肌试验阳性。'],
    ['初步诊断', '急性阑尾炎。'],
  ] },
  { stay: 'liu-yang-appendix', type: 'consent-form', title: '手术知情同意书', author: 'dr-zhao', at: [10, 20, 30], signed: true, sections: [
    ['拟行手术', '腹腔镜阑尾切除术（必要时中转开腹）。'],
    ['风险告知', '已告知切口感染、腹腔脓肿、肠瘘、粘连性肠梗阻等可能，患者本人知情并签字同意。'],
  ] },
  { stay: 'liu-yang-appendix', type: 'first-progress-note', title: '首次病程记录', author: 'dr-ma', at: [10, 19, 0], signed: true, sections: [
    ['诊疗计划', '青年男性，转移性右下腹痛，白细胞15.8×10^9/L，超声示阑尾增粗。诊断明确，拟急诊行腹腔镜阑尾切除术。'],
  ] },
  { stay: 'liu-yang-appendix', type: 'operation-record', title: '手术记录', author: 'dr-zhao', at: [10, 23, 30], signed: true, sections: [
    ['手术经过', '全麻下三孔法腹腔镜探查，见阑尾充血肿胀、表面脓苔，周围少量脓性渗出；结扎阑尾系膜，根部双重结扎后切除，吸净脓液，脐部切口取出标本。'],
    ['术后诊断', '急性化脓性阑尾炎。'],
  ] },
  { stay: 'liu-yang-appendix', type: 'daily-progress-note', title: '术后第2日病程记录', author: 'dr-ma', at: [8, 9, 0], signed: true, sections: [
    ['病情记录', '术后第2日，体温最高38.2℃，脐部切口周围红肿、少量渗液，拆除一针缝线引流并送分泌物培养，继续抗感染治疗，每日换药。'],
  ] },
  { stay: 'liu-yang-appendix', type: 'discharge-record', title: '出院记录', author: 'dr-zhao', at: [6, 9, 30], signed: true, sections: [
    ['诊疗经过', '急诊行腹腔镜阑尾切除术，术后脐部切口浅表感染，经引流换药及抗感染治疗好转。'],
    ['出院医嘱', '切口隔日换药，术后第10日拆线；如有发热、切口红肿加重及时返院。'],
  ] },
  // 赵丽: cholecystectomy, discharged; the operation record still waits for the surgeon's signature.
  { stay: 'zhao-li-gallbladder', type: 'admission-record', title: '入院记录', author: 'dr-ma', at: [8, 11, 0], signed: true, sections: [
    ['主诉', '反复右上腹隐痛1年，进食油腻后加重。'],
    ['辅助检查', '超声示胆囊多发强回声，最大约1.2cm，胆囊壁毛糙增厚。'],
    ['初步诊断', '胆囊结石伴慢性胆囊炎。'],
  ] },
  { stay: 'zhao-li-gallbladder', type: 'consent-form', title: '手术知情同意书', author: 'dr-zhao', at: [8, 16, 0], signed: true, sections: [
    ['拟行手术', '腹腔镜胆囊切除术。'],
    ['风险告知', '已告知胆管损伤、胆漏、出血及中转开腹可能，患者及丈夫表示理解并签字。'],
  ] },
  { stay: 'zhao-li-gallbladder', type: 'operation-record', title: '手术记录', author: 'dr-zhao', at: [7, 11, 0], signed: false, sections: [
    ['手术经过', '全麻下腹腔镜探查，胆囊与网膜轻度粘连，解剖胆囊三角，夹闭切断胆囊管及胆囊动脉，顺行切除胆囊，创面电凝止血，未放置引流。'],
  ] },
  { stay: 'zhao-li-gallbladder', type: 'discharge-record', title: '出院记录', author: 'dr-zhao', at: [5, 9, 30], signed: true, sections: [
    ['诊疗经过', '择期行腹腔镜胆囊切除术，手术顺利，术后恢复良好，切口甲级愈合。'],
    ['出院医嘱', '低脂饮食1个月；术后1周门诊复查。'],
  ] },
  // 黄磊: emergency splenectomy after a road accident, still on the ward (public incident, R-44).
  { stay: 'huang-lei-trauma', type: 'rescue-record', title: '抢救记录', author: 'dr-ma', at: [2, 22, 30], signed: true, sections: [
    ['抢救经过', '患者车祸后腹痛入院，血压78/46mmHg，心率128次/分，立即开放两路静脉通道快速补液，输注悬浮红细胞4U，急诊CT示脾破裂、腹腔大量积血，紧急送手术室。'],
  ] },
  { stay: 'huang-lei-trauma', type: 'consent-form', title: '手术知情同意书', author: 'dr-zhao', at: [2, 22, 40], signed: true, sections: [
    ['拟行手术', '剖腹探查术，必要时脾切除。'],
    ['风险告知', '病情危重，已向患者妻子告知术中大出血、死亡及脾切除术后感染风险，家属签字同意手术。'],
  ] },
  { stay: 'huang-lei-trauma', type: 'operation-record', title: '手术记录', author: 'dr-zhao', at: [2, 23, 55], signed: true, sections: [
    ['手术经过', '全麻下取上腹正中切口，吸出腹腔积血约1800ml，见脾脏下极粉碎性破裂，活动性出血，行脾切除术，探查肝、胃肠未见损伤，放置脾窝引流管一根。'],
  ] },
  { stay: 'huang-lei-trauma', type: 'admission-record', title: '入院记录', author: 'dr-ma', at: [1, 8, 30], signed: true, sections: [
    ['主诉', '车祸致左上腹痛2小时。'],
    ['初步诊断', '闭合性腹部损伤：脾破裂；失血性休克。'],
  ] },
];

/** A document as its author writes it: a preliminary Composition of the stay (the author signs it with `$sign`). */
export function compositionOf(doc: DemoDocument, patientId: string, encounterId: string, t: DemoTimeline): Composition {
  const author = demoUser(doc.author);
  return {
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [TYPE_CODING[doc.type]], text: doc.title },
    subject: { reference: `Patient/${patientId}` },
    encounter: { reference: `Encounter/${encounterId}` },
    date: t.at(...doc.at),
    author: [{ reference: `Practitioner/${author.id}`, display: author.name }],
    title: doc.title,
    section: doc.sections.map(([title, text]) => ({ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${text}</div>` } })),
  };
}

/** The pathology report the pathology system signs and sends through the HIS: a final DocumentReference (R-31 copies it as is). */
export function pathologyReport(patientId: string, encounterId: string, t: DemoTimeline): DocumentReference {
  const text = '病理诊断：（阑尾）急性化脓性阑尾炎，伴阑尾周围炎。\n大体所见：阑尾一条，长6.5cm，直径1.2cm，浆膜面充血，附脓苔。';
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'final',
    type: { coding: [{ system: LOINC, code: '11526-1' }], text: '病理报告' },
    subject: { reference: `Patient/${patientId}` },
    date: t.at(8, 16, 0),
    description: '病理报告',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(text, 'utf8').toString('base64'), title: '病理报告' } }],
    context: { encounter: [{ reference: `Encounter/${encounterId}` }] },
  };
}

import type { PatientKey } from './demo-people.js';

/**
 * The demo patients' visits and what was charted in them (issue #18): five stays on the wards
 * and one outpatient visit, with the vital signs nurses chart (体温单), the lab panels the LIS
 * reports, the orders (医嘱) and the costs. Times are days before the seed and the hospital's
 * wall clock: `[daysAgo, hour, minute]`.
 */
export type When = [daysAgo: number, hour: number, minute: number];

/** One lab result: name, LOINC code (or none), value, unit, reference low and high. */
export type LabResult = [name: string, loinc: string | undefined, value: number, unit: string, low: number, high: number];

/** One lab panel as the LIS reports it (a DiagnosticReport and its Observations). */
export interface LabPanel {
  name: string;
  /** HL7 v2 table 0074 section: HM haematology, CH chemistry. */
  section: 'HM' | 'CH';
  at: When;
  results: LabResult[];
}

/** One medication order: what, how, whether long-term (长期医嘱) or once (临时医嘱), from when and until when. */
export interface MedicationOrder {
  medication: string;
  dosage: string;
  longTerm: boolean;
  at: When;
  until?: When;
}

/** Vital signs by day from `firstDay` (days ago): temperatures and pulses at 06, 10, 14 and 18 h, one respiration and blood pressure a day. */
export interface VitalSigns {
  firstDay: number;
  temperature: number[][];
  pulse: number[][];
  respiration: number[];
  bloodPressure: [number, number][];
}

export type StayKey = 'zhang-wei-stemi' | 'li-xiuying-hf' | 'wang-qiang-clinic' | 'liu-yang-appendix' | 'zhao-li-gallbladder' | 'huang-lei-trauma';

/** A visit: the patient, the department and care team, its times, diagnosis, operation and charts. */
export interface DemoStay {
  key: StayKey;
  patient: PatientKey;
  department: 'dept-cardiology' | 'dept-surgery';
  inpatient: boolean;
  admitted: When;
  /** Absent: still on the ward. */
  discharged?: When;
  /** Demo user ids: the attending physician first, then the others of the care team. */
  team: string[];
  diagnosis: string;
  operation?: { name: string; at: When };
  vitals?: VitalSigns;
  labs: LabPanel[];
  orders: MedicationOrder[];
  /** Examinations and other orders (ServiceRequest), completed. */
  examinations: { name: string; at: When }[];
  /** Cost items: name, quantity, total in yuan (费用清单). */
  charges: [string, number, number][];
}

const normal = (days: number, base = 36.6): number[][] => Array.from({ length: days }, (_, d) => [base, base - 0.1 + (d % 2) * 0.2, base + 0.2, base].map((v) => Math.round(v * 10) / 10));

export const DEMO_STAYS: readonly DemoStay[] = [
  {
    key: 'zhang-wei-stemi',
    patient: 'zhang-wei',
    department: 'dept-cardiology',
    inpatient: true,
    admitted: [11, 3, 20],
    discharged: [4, 10, 0],
    team: ['dr-wang', 'dr-li', 'nurse-chen'],
    diagnosis: '急性前壁ST段抬高型心肌梗死',
    operation: { name: '经皮冠状动脉介入治疗（PCI）', at: [11, 4, 10] },
    vitals: {
      firstDay: 11,
      temperature: [[37.2, 37.6, 37.9, 37.4], [37.8, 38.1, 37.6, 37.3], [37.1, 36.9, 37.0, 36.8], ...normal(5)],
      pulse: [[102, 96, 92, 88], [90, 88, 86, 84], [82, 80, 78, 80], [76, 74, 76, 74], [74, 72, 74, 72], [72, 70, 72, 70], [70, 70, 72, 68], [68, 70, 70, 68]],
      respiration: [20, 19, 18, 18, 17, 17, 17, 16],
      bloodPressure: [[148, 92], [136, 84], [128, 80], [126, 78], [124, 76], [122, 76], [120, 74], [122, 74]],
    },
    labs: [
      { name: '心肌损伤标志物', section: 'CH', at: [11, 3, 50], results: [['肌钙蛋白I', '10839-9', 12.6, 'ng/mL', 0, 0.04], ['肌酸激酶同工酶', '13969-1', 86, 'U/L', 0, 25], ['肌红蛋白', '2639-3', 412, 'ng/mL', 0, 70]] },
      { name: '血常规', section: 'HM', at: [11, 4, 0], results: [['白细胞计数', '6690-2', 11.2, '10^9/L', 3.5, 9.5], ['中性粒细胞百分比', '770-8', 78.4, '%', 40, 75], ['血红蛋白', '718-7', 146, 'g/L', 130, 175], ['血小板计数', '777-3', 231, '10^9/L', 125, 350]] },
      { name: '血脂四项', section: 'CH', at: [10, 6, 30], results: [['总胆固醇', '2093-3', 6.12, 'mmol/L', 2.8, 5.2], ['低密度脂蛋白胆固醇', '13457-7', 4.05, 'mmol/L', 0, 3.4], ['高密度脂蛋白胆固醇', '2085-9', 0.92, 'mmol/L', 1.0, 1.9], ['甘油三酯', '2571-8', 1.86, 'mmol/L', 0.4, 1.7]] },
      { name: '心肌损伤标志物（复查）', section: 'CH', at: [9, 6, 30], results: [['肌钙蛋白I', '10839-9', 3.41, 'ng/mL', 0, 0.04], ['肌酸激酶同工酶', '13969-1', 18, 'U/L', 0, 25]] },
    ],
    orders: [
      { medication: '阿司匹林肠溶片', dosage: '300mg 嚼服 st', longTerm: false, at: [11, 3, 30] },
      { medication: '硫酸氢氯吡格雷片', dosage: '600mg 口服 st', longTerm: false, at: [11, 3, 30] },
      { medication: '阿司匹林肠溶片', dosage: '100mg 口服 qd', longTerm: true, at: [11, 8, 0], until: [4, 10, 0] },
      { medication: '硫酸氢氯吡格雷片', dosage: '75mg 口服 qd', longTerm: true, at: [11, 8, 0], until: [4, 10, 0] },
      { medication: '阿托伐他汀钙片', dosage: '20mg 口服 qn', longTerm: true, at: [11, 8, 0], until: [4, 10, 0] },
      { medication: '琥珀酸美托洛尔缓释片', dosage: '23.75mg 口服 qd', longTerm: true, at: [10, 8, 0], until: [4, 10, 0] },
      { medication: '依诺肝素钠注射液', dosage: '4000IU 皮下注射 q12h', longTerm: true, at: [11, 8, 0], until: [7, 8, 0] },
    ],
    examinations: [
      { name: '急诊冠状动脉造影＋经皮冠状动脉介入治疗', at: [11, 3, 35] },
      { name: '经胸超声心动图', at: [10, 9, 0] },
    ],
    charges: [['床位费', 7, 490], ['经皮冠状动脉介入治疗', 1, 4800], ['冠状动脉药物洗脱支架（集中带量采购）', 1, 760], ['心肌损伤标志物测定', 2, 360], ['西药费', 1, 1286.4]],
  },
  {
    key: 'li-xiuying-hf',
    patient: 'li-xiuying',
    department: 'dept-cardiology',
    inpatient: true,
    admitted: [3, 15, 0],
    team: ['dr-wang', 'dr-li', 'nurse-chen'],
    diagnosis: '慢性心力衰竭急性加重（NYHA III级）；高血压3级（很高危）',
    vitals: {
      firstDay: 3,
      temperature: [[36.7, 36.7, 36.8, 36.9], [36.6, 36.8, 36.9, 36.7], [36.5, 36.6, 36.8, 36.6]],
      pulse: [[110, 110, 110, 108], [104, 98, 96, 94], [92, 90, 88, 88]],
      respiration: [24, 22, 20],
      bloodPressure: [[168, 96], [152, 90], [144, 86]],
    },
    labs: [
      { name: 'N末端B型利钠肽原', section: 'CH', at: [3, 16, 0], results: [['NT-proBNP', '33762-6', 4860, 'pg/mL', 0, 450]] },
      { name: '电解质＋肾功能', section: 'CH', at: [3, 16, 0], results: [['钾', '2823-3', 3.4, 'mmol/L', 3.5, 5.3], ['钠', '2951-2', 136, 'mmol/L', 137, 147], ['肌酐', '2160-0', 98, 'μmol/L', 41, 81]] },
    ],
    orders: [
      { medication: '呋塞米注射液', dosage: '20mg 静脉注射 st', longTerm: false, at: [3, 15, 30] },
      { medication: '呋塞米注射液', dosage: '20mg 静脉注射 qd', longTerm: true, at: [2, 8, 0] },
      { medication: '螺内酯片', dosage: '20mg 口服 qd', longTerm: true, at: [3, 18, 0] },
      { medication: '沙库巴曲缬沙坦钠片', dosage: '50mg 口服 bid', longTerm: true, at: [2, 8, 0] },
    ],
    examinations: [{ name: '床旁胸部X线摄影', at: [3, 16, 30] }],
    charges: [],
  },
  {
    key: 'wang-qiang-clinic',
    patient: 'wang-qiang',
    department: 'dept-cardiology',
    inpatient: false,
    admitted: [6, 9, 30],
    discharged: [6, 10, 5],
    team: ['dr-wang'],
    diagnosis: '原发性高血压2级',
    labs: [],
    orders: [{ medication: '苯磺酸氨氯地平片', dosage: '5mg 口服 qd（30天）', longTerm: false, at: [6, 10, 0] }],
    examinations: [{ name: '24小时动态血压监测', at: [6, 10, 0] }],
    charges: [['普通门诊诊查费', 1, 50], ['苯磺酸氨氯地平片', 2, 31.2]],
  },
  {
    key: 'liu-yang-appendix',
    patient: 'liu-yang',
    department: 'dept-surgery',
    inpatient: true,
    admitted: [10, 16, 30],
    discharged: [6, 10, 0],
    team: ['dr-zhao', 'dr-ma', 'nurse-he'],
    diagnosis: '急性化脓性阑尾炎',
    operation: { name: '腹腔镜阑尾切除术', at: [10, 21, 40] },
    vitals: {
      firstDay: 10,
      temperature: [[0, 0, 0, 38.5], [38.3, 38.0, 37.8, 37.6], [37.9, 38.2, 37.8, 37.5], [37.4, 37.2, 37.0, 36.9], [36.8, 36.7, 0, 0]],
      pulse: [[0, 0, 0, 108], [96, 92, 90, 88], [94, 98, 92, 88], [84, 80, 80, 78], [76, 74, 0, 0]],
      respiration: [20, 19, 19, 18, 17],
      bloodPressure: [[128, 78], [124, 76], [126, 80], [120, 76], [118, 74]],
    },
    labs: [
      { name: '血常规＋C反应蛋白', section: 'HM', at: [10, 17, 0], results: [['白细胞计数', '6690-2', 15.8, '10^9/L', 3.5, 9.5], ['中性粒细胞百分比', '770-8', 88.2, '%', 40, 75], ['血红蛋白', '718-7', 152, 'g/L', 130, 175], ['C反应蛋白', '1988-5', 68.5, 'mg/L', 0, 10]] },
      { name: '血常规（复查）', section: 'HM', at: [8, 7, 0], results: [['白细胞计数', '6690-2', 12.1, '10^9/L', 3.5, 9.5], ['中性粒细胞百分比', '770-8', 79.5, '%', 40, 75]] },
    ],
    orders: [
      { medication: '注射用头孢呋辛钠', dosage: '1.5g 静脉滴注 st（术前）', longTerm: false, at: [10, 21, 0] },
      { medication: '注射用头孢呋辛钠', dosage: '1.5g 静脉滴注 bid', longTerm: true, at: [9, 8, 0], until: [6, 10, 0] },
      { medication: '甲硝唑氯化钠注射液', dosage: '0.5g 静脉滴注 q12h', longTerm: true, at: [9, 8, 0], until: [7, 8, 0] },
    ],
    examinations: [{ name: '腹部超声', at: [10, 17, 10] }],
    charges: [['床位费', 4, 240], ['腹腔镜阑尾切除术', 1, 2680], ['全身麻醉', 1, 1350], ['注射用头孢呋辛钠', 8, 412.8], ['病理检查', 1, 260]],
  },
  {
    key: 'zhao-li-gallbladder',
    patient: 'zhao-li',
    department: 'dept-surgery',
    inpatient: true,
    admitted: [8, 9, 0],
    discharged: [5, 10, 0],
    team: ['dr-zhao', 'dr-ma', 'nurse-he'],
    diagnosis: '胆囊结石伴慢性胆囊炎',
    operation: { name: '腹腔镜胆囊切除术', at: [7, 9, 30] },
    vitals: {
      firstDay: 8,
      temperature: [[0, 36.5, 36.6, 36.6], [36.6, 36.9, 37.5, 37.2], [36.9, 36.8, 36.7, 36.6], [36.5, 36.6, 0, 0]],
      pulse: [[0, 76, 78, 76], [80, 88, 86, 82], [78, 76, 76, 74], [72, 74, 0, 0]],
      respiration: [18, 18, 17, 17],
      bloodPressure: [[118, 72], [116, 70], [112, 70], [114, 72]],
    },
    labs: [
      { name: '肝功能', section: 'CH', at: [8, 10, 0], results: [['丙氨酸氨基转移酶', '1742-6', 42, 'U/L', 7, 40], ['天门冬氨酸氨基转移酶', '1920-8', 35, 'U/L', 13, 35], ['总胆红素', '1975-2', 18.6, 'μmol/L', 0, 21], ['碱性磷酸酶', '6768-6', 98, 'U/L', 35, 100]] },
      { name: '血常规', section: 'HM', at: [8, 10, 0], results: [['白细胞计数', '6690-2', 6.4, '10^9/L', 3.5, 9.5], ['血红蛋白', '718-7', 128, 'g/L', 115, 150], ['血小板计数', '777-3', 268, '10^9/L', 125, 350]] },
    ],
    orders: [
      { medication: '注射用头孢唑林钠', dosage: '1g 静脉滴注 q8h', longTerm: true, at: [7, 9, 0], until: [6, 9, 0] },
      { medication: '酮咯酸氨丁三醇注射液', dosage: '30mg 肌内注射 st', longTerm: false, at: [7, 14, 0] },
    ],
    examinations: [{ name: '肝胆胰脾超声', at: [8, 10, 30] }],
    charges: [['床位费', 3, 180], ['腹腔镜胆囊切除术', 1, 3150], ['全身麻醉', 1, 1350]],
  },
  {
    key: 'huang-lei-trauma',
    patient: 'huang-lei',
    department: 'dept-surgery',
    inpatient: true,
    admitted: [2, 21, 40],
    team: ['dr-zhao', 'dr-ma', 'nurse-he'],
    diagnosis: '闭合性腹部损伤：脾破裂；失血性休克',
    operation: { name: '剖腹探查＋脾切除术', at: [2, 23, 15] },
    vitals: {
      firstDay: 1,
      temperature: [[37.8, 38.0, 37.6, 37.4]],
      pulse: [[104, 98, 96, 92]],
      respiration: [22],
      bloodPressure: [[102, 64]],
    },
    labs: [{ name: '血常规（急诊）', section: 'HM', at: [2, 21, 50], results: [['白细胞计数', '6690-2', 16.4, '10^9/L', 3.5, 9.5], ['血红蛋白', '718-7', 78, 'g/L', 130, 175], ['血小板计数', '777-3', 142, '10^9/L', 125, 350]] }],
    orders: [
      { medication: '悬浮红细胞', dosage: '4U 静脉输注 st', longTerm: false, at: [2, 22, 10] },
      { medication: '注射用头孢曲松钠', dosage: '2g 静脉滴注 qd', longTerm: true, at: [1, 8, 0] },
    ],
    examinations: [{ name: '急诊腹部CT平扫', at: [2, 21, 55] }],
    charges: [],
  },
];

/** The stay `key` (throws on a typo). */
export function demoStay(key: StayKey): DemoStay {
  const stay = DEMO_STAYS.find((s) => s.key === key);
  if (!stay) throw new Error(`no demo stay ${key}`);
  return stay;
}

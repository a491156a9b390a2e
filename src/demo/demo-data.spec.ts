import { sniffEvidenceType } from '../release/domain/copy-request.js';
import { DEMO_DOCUMENTS } from './demo-documents.js';
import { demoPatients, demoVisitors, residentIdNumber } from './demo-people.js';
import { evidenceScan } from './demo-scans.js';
import { DEMO_STAYS } from './demo-stays.js';
import { DemoTimeline } from './demo-timeline.js';
import { DEMO_USERS } from './demo-users.js';

/** GB 11643's check character restated: weights 2^(17-i) mod 11, check (12 - sum mod 11) mod 11, 10 written X. */
function checkCharacter(first17: string): string {
  const sum = [...first17].reduce((s, c, i) => s + Number(c) * (2 ** (17 - i) % 11), 0);
  const check = (12 - (sum % 11)) % 11;
  return check === 10 ? 'X' : String(check);
}

describe('the demo hospital as data (issue #18)', () => {
  const t = new DemoTimeline(new Date('2026-12-06T13:00:00Z'), 'Asia/Shanghai');

  it('times are the hospital\'s wall clock with its offset, days counted in its calendar', () => {
    expect(t.at(0, 9, 30)).toBe('2026-12-06T09:30:00+08:00');
    expect(t.at(11, 3, 20)).toBe('2026-11-25T03:20:00+08:00');
    expect(t.day(31)).toBe('2026-11-05');
    expect(t.born(63, 3, 14)).toBe('1963-03-14');
    // Late in the UTC day it is already tomorrow in Beijing.
    expect(new DemoTimeline(new Date('2026-12-06T17:00:00Z'), 'Asia/Shanghai').day(0)).toBe('2026-12-07');
    // A zone with daylight saving time carries the offset of the day named.
    const ny = new DemoTimeline(new Date('2026-07-15T12:00:00Z'), 'America/New_York');
    expect(ny.at(0, 9)).toBe('2026-07-15T09:00:00-04:00');
    expect(ny.at(200, 9)).toBe('2025-12-27T09:00:00-05:00');
  });

  it('resident ID numbers are well formed: birth date, sex digit, check character', () => {
    const people: { id: string; birthDate?: string; gender?: string }[] = [...demoPatients(t).map((p) => ({ id: p.idNumber, birthDate: p.birthDate, gender: p.gender })), ...Object.values(demoVisitors(t)).map((v) => ({ id: v.idNumber }))];
    for (const p of people) {
      expect(p.id).toMatch(/^\d{17}[\dX]$/);
      expect(p.id[17]).toBe(checkCharacter(p.id.slice(0, 17)));
      if (p.birthDate) {
        expect(p.id.slice(6, 14)).toBe(p.birthDate.replaceAll('-', ''));
        expect(Number(p.id[16]) % 2).toBe(p.gender === 'male' ? 1 : 0);
      }
    }
    expect(residentIdNumber('110105', '1963-03-14', 217, 'female')[16]).toBe('6');
    expect(new Set(people.map((p) => p.id)).size).toBe(people.length);
  });

  it('every stay\'s team are demo users of its department (or its nurse), and every note is written by its team in the stay', () => {
    const users = new Map(DEMO_USERS.map((u) => [u.id, u]));
    for (const stay of DEMO_STAYS) {
      for (const id of stay.team) expect({ stay: stay.key, id, department: users.get(id)?.department }).toEqual({ stay: stay.key, id, department: stay.department });
      if (stay.discharged) expect(Date.parse(t.at(...stay.discharged))).toBeGreaterThan(Date.parse(t.at(...stay.admitted)));
    }
    for (const doc of DEMO_DOCUMENTS) {
      const stay = DEMO_STAYS.find((s) => s.key === doc.stay);
      expect({ doc: doc.title, stay: doc.stay, onTeam: stay?.team.includes(doc.author), licensed: users.get(doc.author)?.licence }).toEqual({ doc: doc.title, stay: doc.stay, onTeam: true, licensed: 'licensed' });
      expect(Date.parse(t.at(...doc.at))).toBeLessThan(t.now.getTime());
    }
  });

  it('the desk\'s scans are PNG files the evidence check recognises, each different', () => {
    const scans = ['id-card', 'agent-id', 'power-of-attorney', 'legal-request'].map((kind, i) => evidenceScan(kind, i));
    for (const scan of scans) expect(sniffEvidenceType(scan)).toBe('image/png');
    expect(new Set(scans.map((s) => s.toString('base64'))).size).toBe(scans.length);
  });
});

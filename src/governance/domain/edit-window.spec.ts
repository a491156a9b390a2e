import { loadR4Definitions } from '../../store/fhir-definitions.js';
import { defaultPolicyPath, loadPolicy } from '../../policy/policy.loader.js';
import { editWindow, type WindowDecision } from './edit-window.js';
import type { EditWindowRule } from '../../policy/domain/edit-window-rule.js';

/**
 * the edit window of an operator for a document, as pure policy data. The rules
 * are the shipped default policy's (`governance.editWindows`), so these tests also pin what a
 * hospital gets out of the box; a few synthetic rule sets check the combination logic alone.
 */

const HOUR = 3_600_000;
const T0 = new Date('2026-11-29T02:00:00.000Z');
const at = (hours: number, from = T0) => new Date(from.getTime() + hours * HOUR);

const shipped = loadPolicy(defaultPolicyPath(), loadR4Definitions()).governance?.editWindows as readonly EditWindowRule[];

const PHYSICIANS = ['attending', 'chief', 'resident'];
const CREATED_72 = { roles: PHYSICIANS, types: '*', hours: 72, from: 'created' };
const SIGNED_24 = { roles: PHYSICIANS, types: '*', hours: 24, from: 'signed' };
const INTERN_24 = { roles: ['intern'], types: '*', hours: 24, from: 'created' };
const NURSE_24 = { roles: ['nurse'], types: ['nursing-record', 'temperature-chart'], hours: 24, from: 'created' };
const HIS_720 = { roles: ['his-system'], types: '*', hours: 720, from: 'created' };

function expectClosed(decision: WindowDecision, closedAt: Date, anchor: Date, rule: object): void {
  expect(decision).toEqual({ open: false, reason: 'closed', closedAt, anchor, rule: expect.objectContaining(rule) });
}

describe('editWindow (R-10 / R-11, pure)', () => {
  it('R-10: the shipped policy holds the edit windows as data: physicians 72 h from creation or 24 h from signing, interns 24 h, nurses 24 h on nursing documents, the HIS 720 h', () => {
    expect(shipped).toEqual([CREATED_72, SIGNED_24, INTERN_24, NURSE_24, HIS_720]);
  });

  describe('R-11: a window from creation', () => {
    it.each(PHYSICIANS)('R-11: %s: open up to and including 72 h after creation (until = created + 72 h), closed 1 ms later with the closing instant, the anchor and the rule', (role) => {
      // Signed right at creation: the 24 h from signing ends long before the 72 h from creation.
      const times = { created: T0, signed: T0 };
      expect(editWindow(shipped, [role], 'daily-progress-note', times, at(1))).toEqual({ open: true, until: at(72), rule: expect.objectContaining(CREATED_72) });
      expect(editWindow(shipped, [role], 'daily-progress-note', times, at(72))).toEqual({ open: true, until: at(72), rule: expect.objectContaining(CREATED_72) });
      expectClosed(editWindow(shipped, [role], 'daily-progress-note', times, new Date(at(72).getTime() + 1)), at(72), T0, CREATED_72);
    });

    it('R-11: intern: 24 h from creation, whether or not the document is signed (no window from signing for interns)', () => {
      expect(editWindow(shipped, ['intern'], 'admission-record', { created: T0 }, at(23.99))).toEqual({ open: true, until: at(24), rule: expect.objectContaining(INTERN_24) });
      expectClosed(editWindow(shipped, ['intern'], 'admission-record', { created: T0 }, at(24.01)), at(24), T0, INTERN_24);
      // A signature later does not reopen it: the intern has no rule from signing.
      expectClosed(editWindow(shipped, ['intern'], 'admission-record', { created: T0, signed: at(30) }, at(31)), at(24), T0, INTERN_24);
    });

    it('R-11: his-system: 720 h (30 days) from creation, on every document type and on untyped documents', () => {
      for (const docType of ['discharge-record', 'nursing-record', undefined]) {
        expect(editWindow(shipped, ['his-system'], docType, { created: T0 }, at(719))).toEqual({ open: true, until: at(720), rule: expect.objectContaining(HIS_720) });
        expectClosed(editWindow(shipped, ['his-system'], docType, { created: T0 }, at(721)), at(720), T0, HIS_720);
      }
    });

    it('R-11: nurse: 24 h from creation on nursing-record and temperature-chart', () => {
      for (const docType of ['nursing-record', 'temperature-chart']) {
        expect(editWindow(shipped, ['nurse'], docType, { created: T0 }, at(23))).toEqual({ open: true, until: at(24), rule: expect.objectContaining(NURSE_24) });
        expectClosed(editWindow(shipped, ['nurse'], docType, { created: T0 }, at(25)), at(24), T0, NURSE_24);
      }
    });

    it('R-11: a window is measured from the creation time, not from "now": a document created late still gets its full window', () => {
      const created = at(500);
      expect(editWindow(shipped, ['intern'], 'daily-progress-note', { created }, at(523, T0))).toEqual({ open: true, until: at(524), rule: expect.objectContaining(INTERN_24) });
      // A clock a little behind the stored creation time (now < created) is inside the window.
      expect(editWindow(shipped, ['intern'], 'daily-progress-note', { created }, at(499))).toMatchObject({ open: true, until: at(524) });
    });

    it('R-11: fractional hours are honoured to the millisecond (0.5 h = 30 min)', () => {
      const rules: EditWindowRule[] = [{ roles: ['scribe'], types: '*', hours: 0.5, from: 'created' }];
      expect(editWindow(rules, ['scribe'], undefined, { created: T0 }, new Date(T0.getTime() + 30 * 60_000))).toMatchObject({ open: true, until: new Date(T0.getTime() + 1_800_000) });
      expect(editWindow(rules, ['scribe'], undefined, { created: T0 }, new Date(T0.getTime() + 30 * 60_000 + 1))).toMatchObject({ open: false, reason: 'closed', closedAt: new Date(T0.getTime() + 1_800_000) });
    });
  });

  describe('R-11: a window from signing', () => {
    it('R-11: signed long after creation, a physician has 24 h from the signing (the 72 h from creation are long over)', () => {
      const times = { created: T0, signed: at(100) };
      expect(editWindow(shipped, ['attending'], 'daily-progress-note', times, at(123))).toEqual({ open: true, until: at(124), rule: expect.objectContaining(SIGNED_24) });
      expect(editWindow(shipped, ['attending'], 'daily-progress-note', times, at(124))).toMatchObject({ open: true, until: at(124) });
      expectClosed(editWindow(shipped, ['attending'], 'daily-progress-note', times, at(125)), at(124), at(100), SIGNED_24);
    });

    it('R-11: the most generous matching rule applies: signed 10 h after creation, created + 72 h outlasts signed + 24 h', () => {
      const times = { created: T0, signed: at(10) };
      expect(editWindow(shipped, ['chief'], 'discharge-record', times, at(60))).toEqual({ open: true, until: at(72), rule: expect.objectContaining(CREATED_72) });
      expectClosed(editWindow(shipped, ['chief'], 'discharge-record', times, at(73)), at(72), T0, CREATED_72);
      // Signed at 50 h: signing + 24 h (74 h) is the later one.
      expect(editWindow(shipped, ['chief'], 'discharge-record', { created: T0, signed: at(50) }, at(73))).toEqual({ open: true, until: at(74), rule: expect.objectContaining(SIGNED_24) });
    });

    it('R-11: an unsigned document is bound by the windows from creation: a physician\'s draft closes 72 h after creation (the window from signing has not started)', () => {
      expect(editWindow(shipped, ['resident'], 'daily-progress-note', { created: T0 }, at(71))).toEqual({ open: true, until: at(72), rule: expect.objectContaining(CREATED_72) });
      expectClosed(editWindow(shipped, ['resident'], 'daily-progress-note', { created: T0 }, at(73)), at(72), T0, CREATED_72);
      expectClosed(editWindow(shipped, ['attending'], 'daily-progress-note', { created: T0 }, at(1000)), at(72), T0, CREATED_72);
      // Rule order does not matter.
      expectClosed(editWindow([...shipped].reverse(), ['chief'], 'daily-progress-note', { created: T0 }, at(73)), at(72), T0, CREATED_72);
      // Signing later opens the window from signing: 24 h from then.
      expect(editWindow(shipped, ['attending'], 'daily-progress-note', { created: T0, signed: at(1000) }, at(1001))).toEqual({ open: true, until: at(1024), rule: expect.objectContaining(SIGNED_24) });
    });

    it('R-11: a policy with only a window from signing: open while unsigned (still being written, no `until`), then hours from the signing', () => {
      const rules: EditWindowRule[] = [{ roles: ['attending'], types: ['discharge-record'], hours: 12, from: 'signed' }];
      expect(editWindow(rules, ['attending'], 'discharge-record', { created: T0 }, at(5000))).toEqual({ open: true, rule: rules[0] });
      expect(editWindow(rules, ['attending'], 'discharge-record', { created: T0, signed: at(48) }, at(59))).toMatchObject({ open: true, until: at(60) });
      expectClosed(editWindow(rules, ['attending'], 'discharge-record', { created: T0, signed: at(48) }, at(61)), at(60), at(48), rules[0]);
    });
  });

  describe('R-11: who a rule names, and for what', () => {
    it('R-11: no rule naming the roles (admin, record-room, auditor, no roles at all): closed, reason no-rule, at any time', () => {
      for (const roles of [['admin'], ['record-room'], ['auditor'], []]) {
        expect(editWindow(shipped, roles, 'daily-progress-note', { created: T0 }, T0)).toEqual({ open: false, reason: 'no-rule' });
      }
    });

    it('R-11: a nurse has no window on a progress note, an untyped document or any type outside the rule (no-rule, even 1 ms after creation)', () => {
      for (const docType of ['daily-progress-note', 'admission-record', 'discharge-record', undefined]) {
        expect(editWindow(shipped, ['nurse'], docType, { created: T0 }, new Date(T0.getTime() + 1))).toEqual({ open: false, reason: 'no-rule' });
      }
    });

    it('R-11: `*` covers untyped documents (no known document type) for physicians, interns and the HIS', () => {
      expect(editWindow(shipped, ['attending'], undefined, { created: T0, signed: T0 }, at(71))).toMatchObject({ open: true, until: at(72) });
      expect(editWindow(shipped, ['intern'], undefined, { created: T0 }, at(23))).toMatchObject({ open: true, until: at(24) });
    });

    it('R-11: several roles: any rule naming any of them counts, and the most generous wins', () => {
      // An intern who is also a nurse: the nursing window and the intern window are both 24 h; on a progress note only the intern's applies.
      expect(editWindow(shipped, ['nurse', 'intern'], 'daily-progress-note', { created: T0 }, at(23))).toEqual({ open: true, until: at(24), rule: expect.objectContaining(INTERN_24) });
      // A client that is both HIS and intern: 720 h.
      expect(editWindow(shipped, ['intern', 'his-system'], 'daily-progress-note', { created: T0 }, at(700))).toEqual({ open: true, until: at(720), rule: expect.objectContaining(HIS_720) });
      // A role no rule names adds nothing and takes nothing away.
      expect(editWindow(shipped, ['auditor', 'intern'], 'daily-progress-note', { created: T0 }, at(25))).toMatchObject({ open: false, reason: 'closed', closedAt: at(24) });
    });

    it('R-11: an empty rule set closes every document to everyone (least privilege)', () => {
      expect(editWindow([], ['his-system', 'attending'], 'daily-progress-note', { created: T0 }, T0)).toEqual({ open: false, reason: 'no-rule' });
    });
  });
});

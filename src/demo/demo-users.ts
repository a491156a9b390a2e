import type { LicenceStatus } from '../identity/actor.js';
import type { DevTokenRequest } from '../identity/dev-token.issuer.js';

/**
 * The small hospital `npx chartwarden demo seed` fills (issue #18) is staffed by these people.
 * The console's development sign-in (dev key mode only, never with a JWKS) lists them by role,
 * and signs a dev token carrying exactly these claims (`demoTokenRequest`): the console has no
 * permission logic of its own, so each sees what the policy gives the roles named here.
 */
export interface DemoUser {
  /** The token's subject, and the id of the user's Practitioner (`Practitioner/<id>`, its `fhirUser`). */
  id: string;
  /** The name as the hospital writes it (Han order). */
  name: string;
  /** Policy roles (policy/default.policy.yaml `roles`). */
  roles: string[];
  /** The department (Organization id) a clinician works in. */
  department?: string;
  /** A clinician's licence: `licensed` physicians sign alone. */
  licence?: LicenceStatus;
  /** The job as staff read it, e.g. 病案室 · 复印登记. */
  title: string;
}

/** The demo departments (Organization ids and names). */
export const DEMO_DEPARTMENTS: readonly { id: string; name: string }[] = [
  { id: 'dept-cardiology', name: '心内科' },
  { id: 'dept-surgery', name: '普外科' },
];

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'dr-wang', name: '王建国', roles: ['attending'], department: 'dept-cardiology', licence: 'licensed', title: '心内科 · 主治医师' },
  { id: 'dr-li', name: '李明', roles: ['resident'], department: 'dept-cardiology', licence: 'licensed', title: '心内科 · 住院医师' },
  { id: 'dr-zhao', name: '赵志强', roles: ['chief'], department: 'dept-surgery', licence: 'licensed', title: '普外科 · 主任医师' },
  { id: 'dr-ma', name: '马超', roles: ['resident'], department: 'dept-surgery', licence: 'licensed', title: '普外科 · 住院医师' },
  { id: 'nurse-chen', name: '陈静', roles: ['nurse'], department: 'dept-cardiology', title: '心内科 · 护士' },
  { id: 'nurse-he', name: '何丽', roles: ['nurse'], department: 'dept-surgery', title: '普外科 · 护士' },
  { id: 'clerk-liu', name: '刘芳', roles: ['record-room'], title: '病案室 · 复印登记' },
  { id: 'clerk-sun', name: '孙丽', roles: ['record-room'], title: '病案室 · 复印审核' },
  { id: 'officer-zhou', name: '周伟', roles: ['disputes-officer'], title: '医患关系办公室' },
  { id: 'affairs-wu', name: '吴敏', roles: ['medical-affairs'], title: '医务处' },
  { id: 'auditor-zheng', name: '郑洁', roles: ['auditor'], title: '审计' },
];

/** The demo user `id` (throws on an id that is not one: a typo in the seed is a bug). */
export function demoUser(id: string): DemoUser {
  const user = DEMO_USERS.find((u) => u.id === id);
  if (!user) throw new Error(`no demo user ${id}`);
  return user;
}

/** The dev token a demo user signs in with: their id as subject and Practitioner, roles, department and licence. */
export function demoTokenRequest(user: DemoUser, ttl = '8h'): DevTokenRequest {
  return {
    sub: user.id,
    roles: user.roles,
    ...(user.department ? { department: user.department } : {}),
    ...(user.licence ? { licence: user.licence } : {}),
    fhirUser: `Practitioner/${user.id}`,
    ttl,
  };
}

import type { HumanName, Organization, Patient, Practitioner, Reference, Resource } from '@medplum/fhirtypes';
import { hospitalTime } from '../common/hospital-time.js';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { referenceKey } from './reference-key.js';

/**
 * How a paper prints what a person reads on it (a certified copy, a print, a sealed
 * inventory): times as the hospital's wall clock in its zone (policy `settings.timeZone`),
 * and the people and departments a record names by their names, not their references.
 */
export interface Paper {
  /** The IANA zone times are printed in (the policy's `timeZone`). */
  timeZone: string;
  /** Printed names by `Type/id` (`Practitioner/dr-wang` → `王建国`, `Organization/lab` → `检验科`, `Patient/p1` → `王小明`). */
  names: ReadonlyMap<string, string>;
}

/** The types of what a signer, author, performer or subject reference names, and whose names a paper prints. */
const NAMED_TYPES: ReadonlySet<string> = new Set(['Practitioner', 'Organization', 'Patient']);

/**
 * The names of the practitioners, organizations and patients `resources` refer to (authors,
 * signers, performers, requesters, subjects…), read once through the store's `PatientRecordIndex` (current
 * versions), keyed `Type/id`; `also`: other references to name (who makes the copy).
 * A reference the store does not hold, or to a record without a name, is left out.
 */
export async function namesFor(index: PatientRecordIndex, resources: readonly Resource[], also: readonly string[] = []): Promise<Map<string, string>> {
  const keys = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) for (const v of value) visit(v);
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'reference' && typeof v === 'string') add(v);
        else if (k !== 'contained') visit(v);
      }
    }
  };
  const add = (reference: string) => {
    const key = referenceKey(reference);
    if (key && NAMED_TYPES.has(key.slice(0, key.indexOf('/')))) keys.add(key);
  };
  resources.forEach(visit);
  also.forEach(add);
  if (keys.size === 0) return new Map();
  const found = await index.readMany([...keys].map((k) => ({ type: k.slice(0, k.indexOf('/')), id: k.slice(k.indexOf('/') + 1) })));
  const names = new Map<string, string>();
  for (const { resource } of found) {
    const name = resource.resourceType === 'Organization' ? (resource as Organization).name : personName((resource as Practitioner | Patient).name);
    if (name) names.set(`${resource.resourceType}/${resource.id}`, name);
  }
  return names;
}

/** A person's name as printed, Han names family first (`王建国`): the official name, else the first one still in use. */
export function personName(names: readonly HumanName[] | undefined): string | undefined {
  const usable = (names ?? []).filter((n) => n.use !== 'old');
  return humanName(usable.find((n) => n.use === 'official') ?? usable[0] ?? names?.[0]);
}

/**
 * Who a reference names, as a paper prints it: the name the record was written with
 * (`display`), else the name of the practitioner or organization the store holds, or for a
 * reference to a resource `container` holds (`#nurse`), that resource's name; else the
 * reference as written: never nothing for a reference that is there.
 */
export function nameOf(reference: Reference | undefined, paper: Paper, container?: Resource): string | undefined {
  if (!reference) return undefined;
  const key = referenceKey(reference.reference);
  return reference.display ?? (key ? paper.names.get(key) : containedName(reference.reference, container)) ?? reference.reference;
}

/** The name of the contained Practitioner or Organization `#id` names. */
function containedName(reference: string | undefined, container: Resource | undefined): string | undefined {
  if (!reference?.startsWith('#') || !container || !('contained' in container)) return undefined;
  const held = (container.contained ?? []).find((r) => r.id === reference.slice(1));
  if (held?.resourceType === 'Practitioner') return personName(held.name);
  if (held?.resourceType === 'Organization') return held.name;
  return undefined;
}

/** A name as written, Han names family first without a space (王 + 小明 = 王小明), others given names first. */
export function humanName(n: HumanName | undefined): string | undefined {
  if (!n) return undefined;
  if (n.text) return n.text;
  const given = (n.given ?? []).join(' ');
  // Chinese names are written family name first, without a space (王 + 小明 = 王小明).
  const han = /\p{Script=Han}/u.test(`${n.family ?? ''}${given}`);
  return (han ? `${n.family ?? ''}${(n.given ?? []).join('')}` : `${given} ${n.family ?? ''}`).trim() || undefined;
}

/** A time as the paper prints it: `YYYY-MM-DD HH:mm` in its zone; a date without a time as sent. */
export function paperTime(value: string | undefined, paper: Pick<Paper, 'timeZone'>): string | undefined {
  return hospitalTime(value, paper.timeZone);
}

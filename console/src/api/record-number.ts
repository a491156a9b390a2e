import type { Patient } from './fhir';

/** The identifier type of a medical-record number (HL7 v2 table 0203). */
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/**
 * The 病案号 as the papers print it (src/copies/patient-block.ts `recordNumber`): the value of
 * the first of the policy's `systems` (in order) the patient has a current identifier in, else of
 * an identifier of type MR (v2-0203); undefined when the patient has none (the page then shows
 * the record's id). Identifiers marked `old` are no longer the patient's number.
 */
export function recordNumberOf(patient: Pick<Patient, 'identifier'> | undefined, systems: readonly string[]): string | undefined {
  const current = (patient?.identifier ?? []).filter((i) => i.value && i.use !== 'old');
  for (const system of systems) {
    const found = current.find((i) => i.system === system);
    if (found?.value) return found.value;
  }
  return current.find((i) => (i.type?.coding ?? []).some((c) => c.system === V2_0203 && c.code === 'MR'))?.value;
}

/**
 * The FHIR search that finds a patient by a typed 病案号: `identifier=<system>|<q>` over the
 * policy's systems (one search, OR by commas); with no system named, by the value in any system
 * (an MR identifier's system is the hospital's own). Undefined for a query that cannot be one.
 */
export function recordNumberSearch(q: string, systems: readonly string[]): string | undefined {
  const value = q.trim();
  if (!value || /[,|$\\]/.test(value)) return undefined;
  const tokens = systems.length > 0 ? systems.map((s) => `${s}|${value}`) : [value];
  return `Patient?identifier=${tokens.map(encodeURIComponent).join(',')}&_count=20`;
}

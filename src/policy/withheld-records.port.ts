/** Records withheld from everyone but a case team: sealed records of a public-opinion incident. */
export interface Withholding {
  caseId: string;
  /** Practitioner references (and token subjects) that may still see the records. */
  team: readonly string[];
  /** The withheld records, `id`s per resource type. */
  records: ReadonlyMap<string, readonly string[]>;
}

/**
 * Port: where the policy learns which records are withheld right now. The disputes feature
 * implements it over its sealed inventories; without it nothing is withheld.
 */
export abstract class WithheldRecordsSource {
  abstract current(): Promise<readonly Withholding[]>;
}

/** Whether an operator is on a case team: named by their practitioner reference or their token subject. */
export function onCaseTeam(team: readonly string[], actor: { id: string; practitioner: string }): boolean {
  return team.includes(actor.practitioner) || team.includes(actor.id);
}

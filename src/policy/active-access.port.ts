/** What an actor holds right now beyond the normal rules: patient ids with their end. */
export interface ActiveAccess {
  grants: { id: string; patientId: string; until: Date }[];
  breakGlass: { id: string; patientId: string; until: Date }[];
}

/**
 * Port: where the policy learns an actor's approved grants and open break-the-glass
 * . The access feature implements it over its table.
 */
export abstract class ActiveAccessSource {
  abstract activeFor(actorId: string, now: Date): Promise<ActiveAccess>;
}
